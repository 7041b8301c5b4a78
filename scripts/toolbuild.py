"""What the offline tool builds share (scripts/pulumi-toolchain, scripts/ci-toolchain): pins from a
KEY=VALUE file, content hashes, a cache of parts each keyed by what it is built from, built in a
temporary folder and renamed into place (an interrupted build never looks complete), and one
build at a time per cache (a file lock)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAYOUT = "2"  # bump when the layout of a part changes
GO_NOISE = ("go: downloading ", "go: added ", "go: upgraded ", "go: finding ")


class BuildError(Exception):
    """A piece could not be built; the message says which and why."""


def logger(tool: str):
    def log(msg: str) -> None:
        print(f"[{tool}] {msg}", file=sys.stderr, flush=True)
    return log


def load_pins(path: Path) -> dict[str, str]:
    pins = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise BuildError(f"{path}:{n}: expected KEY=VALUE, got {line!r}")
        pins[key.strip()] = value.strip()
    return pins


def digest(*items) -> str:
    h = hashlib.sha256(LAYOUT.encode())
    for item in items:
        h.update(b"\0" + (item if isinstance(item, bytes) else str(item).encode()))
    return h.hexdigest()[:16]


def tree_digest(path: Path, missing_hint: str = "") -> str:
    """Hash of a source tree's file names and contents."""
    if not path.is_dir():
        raise BuildError(f"source tree {path} is missing{missing_hint}")
    items: list = []
    for p in sorted(path.rglob("*")):
        if p.is_file():
            items += [str(p.relative_to(path)), p.read_bytes()]
    return digest(*items)


def copy_tree(src: Path, dst: Path) -> None:
    """Copy a read-only source tree into a writable build folder."""
    shutil.copytree(src, dst)
    for d, _, files in os.walk(dst):
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o644)


@contextlib.contextmanager
def locked(base: Path):
    """One build at a time per cache; leftovers of interrupted builds go (we hold the lock)."""
    base.mkdir(parents=True, exist_ok=True)
    with open(base / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        shutil.rmtree(base / "tmp", ignore_errors=True)
        yield


class PartCache:
    """parts/<name>-<hash(spec)>/: each built once, by build(bin_dir, scratch), and reused."""

    def __init__(self, base: Path, log, env: dict[str, str]):
        self.base = base
        self.log = log
        self.env = env
        self.tmp = base / "tmp"
        self.parts = base / "parts"
        for d in (self.tmp, self.parts):
            d.mkdir(parents=True, exist_ok=True)
        self.times: dict[str, dict] = {}

    def run(self, args, cwd, env=None, capture=False):
        """Run a build command (its output goes to stderr, or is returned with capture=True)."""
        self.log("  $ " + " ".join(shlex.quote(str(a)) for a in args))
        r = subprocess.run([str(a) for a in args], cwd=cwd, env=env or self.env,
                           stdout=subprocess.PIPE if capture else sys.stderr, stderr=subprocess.PIPE, text=True)
        lines = r.stderr.splitlines()
        quiet = sum(1 for line in lines if line.startswith(GO_NOISE))
        if quiet:
            self.log(f"  ({quiet} module downloads/additions)")
        rest = [line for line in lines if not line.startswith(GO_NOISE)]
        if rest:
            sys.stderr.write("\n".join(rest[-40:]) + "\n")
        if r.returncode != 0:
            raise BuildError(f"command failed ({r.returncode}) in {cwd}: {' '.join(map(str, args))}"
                             + (f": {rest[-1]}" if rest else ""))
        return r

    def path(self, name: str, spec: dict) -> Path:
        return self.parts / f"{name}-{digest(json.dumps(spec, sort_keys=True))}"

    def part(self, name: str, spec: dict, build) -> Path:
        final = self.path(name, spec)
        if (final / "BUILD-INFO.json").is_file():
            info = json.loads((final / "BUILD-INFO.json").read_text())
            self.log(f"{name}: cached ({final.name}, built in {info['seconds']:.0f} s)")
            self.times[name] = info
            return final
        out = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.tmp))
        (out / "bin").mkdir()
        scratch = Path(tempfile.mkdtemp(prefix=f"{name}-src-", dir=self.tmp))
        self.log(f"{name}: building")
        t0 = time.monotonic()
        try:
            build(out / "bin", scratch)
        except BaseException:
            shutil.rmtree(out, ignore_errors=True)
            raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        info = dict(spec, seconds=round(time.monotonic() - t0, 1))
        (out / "BUILD-INFO.json").write_text(json.dumps(info, indent=2) + "\n")
        os.rename(out, final)
        self.log(f"{name}: built in {info['seconds']:.0f} s")
        self.times[name] = info
        return final


def go_env(base: Path, go_toolchain: str) -> dict[str, str]:
    """Go's module and build caches under `base`, module mode, no cgo (static binaries)."""
    for d in (base / "go" / "mod", base / "go" / "build"):
        d.mkdir(parents=True, exist_ok=True)
    return dict(os.environ, GOMODCACHE=str(base / "go" / "mod"), GOCACHE=str(base / "go" / "build"),
                GOFLAGS="-mod=mod -buildvcs=false", GOWORK="off", GOTOOLCHAIN=go_toolchain or "local",
                CGO_ENABLED="0")
