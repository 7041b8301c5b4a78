"""The pieces the end-to-end tests drive: the real Pulumi CLI on a project copy, a local image
registry serving the stand-ins, and reads of what Docker and MySQL really hold.

Nothing here imitates Pulumi or Docker: `Project.pulumi()` runs the CLI built by
`scripts/pulumi-toolchain`, with a file state backend and passphrase secrets in a temp folder.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

from ruamel.yaml import YAML

from daemon import site_config


ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ("__main__.py", "Pulumi.yaml", "requirements.txt", "components", "sitespec")
PASSPHRASE = "e2e-state-passphrase"


class CommandFailed(AssertionError):
    pass


def toolchain_env() -> dict[str, str]:
    """The environment of `scripts/pulumi-toolchain --env`: the pinned CLI, language host and plugins."""
    tool = str(ROOT / "scripts" / "pulumi-toolchain")
    out = subprocess.run([tool, "--env"], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"scripts/pulumi-toolchain --env failed:\n{out.stderr[-3000:]}")
    dump = subprocess.run(["bash", "-c", out.stdout + "\nenv -0"], capture_output=True,
                          env={"PATH": os.environ["PATH"]}, check=True)
    env = dict(item.split("=", 1) for item in dump.stdout.decode().split("\0") if "=" in item)
    return {k: v for k, v in env.items() if k.startswith(("PULUMI", "GO")) or k == "PATH"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalRegistry:
    """Debian's docker-registry on loopback: the stand-ins are pulled from it for real.
    With `login=(user, password)` it asks for HTTP basic auth (htpasswd, bcrypt), as the O3
    registry asks for the `_json_key` login. With `tls=(certificate PEM, key PEM, CA PEM)` it
    serves HTTPS, as a real registry does (Docker still pushes to a loopback registry without
    checking the certificate)."""

    def __init__(self, storage: Path, addr: str = "127.0.0.1", port: Optional[int] = None,
                 login: Optional[tuple[str, str]] = None, tls: Optional[tuple[str, str, str]] = None):
        self.port = port or free_port()
        self.host = f"{addr}:{self.port}"
        self.storage = storage
        self.dir = storage.parent / f"registry-{self.port}"
        self.dir.mkdir(parents=True, exist_ok=True)
        auth = ""
        if login:
            import bcrypt

            user, password = login
            (self.dir / "htpasswd").write_text(f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()}\n")
            auth = f"auth:\n  htpasswd:\n    realm: o3-test\n    path: {self.dir / 'htpasswd'}\n"
        scheme, context, serve_tls = "http", None, ""
        if tls:
            import ssl

            for name, pem in zip(("cert.pem", "key.pem", "ca.pem"), tls):
                (self.dir / name).write_text(pem)
            scheme, context = "https", ssl.create_default_context(cafile=str(self.dir / "ca.pem"))
            serve_tls = f"  tls:\n    certificate: {self.dir / 'cert.pem'}\n    key: {self.dir / 'key.pem'}\n"
        self.ca_file = self.dir / "ca.pem" if tls else None
        cfg = self.dir / "config.yml"
        cfg.write_text(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
            f"    rootdirectory: {storage}\n  delete:\n    enabled: true\nhttp:\n  addr: {self.host}\n{serve_tls}{auth}"
        )
        self.log = open(self.dir / "registry.log", "ab")
        self.proc = subprocess.Popen(["docker-registry", "serve", str(cfg)], stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{scheme}://{self.host}/v2/", timeout=2, context=context).read()
                return
            except urllib.error.HTTPError as e:
                if e.code == 401 and login:  # up, and asking for the login
                    return
                time.sleep(0.2)
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"docker-registry did not answer on {self.host}; see {self.dir / 'registry.log'}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def release_context(base: str, version: str, silent: bool = False) -> bytes:
    """A docker build context (tar) of one stand-in release: `base` plus a file naming `version`
    (a distinct image per version, as a real release is). silent=True: a broken release, whose
    app starts and listens but never answers (the stand-in's `silent` file)."""
    files = [("version", f"{version}\n".encode())] + ([("silent", b"")] if silent else [])
    dockerfile = (f"FROM {base}\n" + "".join(f"COPY {n} /opt/o3-standin/{n}\n" for n, _ in files)
                  + f"LABEL org.o3.standin.version={version}\n")
    ctx = io.BytesIO()
    with tarfile.open(fileobj=ctx, mode="w") as tar:
        for name, data in [("Dockerfile", dockerfile.encode()), *files]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return ctx.getvalue()


def publish(client, base: str, ref: str, version: str, push: bool = True, auth: Optional[dict] = None) -> str:
    """Push `ref` to the registry: a release of `base` (release_context). The local tag is removed
    again so `up` really pulls it. push=False: only build and tag it on that daemon."""
    ctx = io.BytesIO(release_context(base, version))
    image, _ = client.images.build(fileobj=ctx, custom_context=True, tag=ref, rm=True, network_mode="none")
    if not push:
        return image.id
    for line in client.images.push(ref, stream=True, decode=True, auth_config=auth):
        if "error" in line:
            raise RuntimeError(f"pushing {ref}: {line['error']}")
    client.images.remove(ref)
    return image.id


class Project:
    """A copy of the program with one stack, driven by the real CLI."""

    def __init__(self, workdir: Path, stack: str, env: dict[str, str], secrets: Iterable[str] = ()):
        self.dir = workdir / "project"
        self.state = workdir / "state"
        self.stack = stack
        self.secrets = [s for s in secrets if s]
        self.log: list[tuple[list[str], str]] = []
        self.dir.mkdir(parents=True)
        self.state.mkdir()
        for name in PROGRAM:
            src = ROOT / name
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, self.dir / name)
        (self.dir / ".venv").symlink_to(ROOT / ".venv")
        self.env = {
            **os.environ,
            **env,
            "PULUMI_BACKEND_URL": f"file://{self.state}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_SKIP_CONFIRMATIONS": "true",
            "NO_COLOR": "1",
        }

    @property
    def stack_file(self) -> Path:
        return self.dir / f"Pulumi.{self.stack}.yaml"

    def pulumi(self, *args: str, check: bool = True, input: Optional[str] = None, timeout: int = 900) -> subprocess.CompletedProcess:
        cmd = ["pulumi", *args, "--non-interactive"]
        out = subprocess.run(cmd, cwd=self.dir, env=self.env, capture_output=True, text=True, input=input, timeout=timeout)
        text = out.stdout + out.stderr
        self.log.append((cmd, text))
        leaked = [i for i, s in enumerate(self.secrets) if s in text]
        assert not leaked, f"`{' '.join(cmd)}` printed secret #{leaked[0]} in its output"
        if check and out.returncode != 0:
            raise CommandFailed(f"`{' '.join(cmd)}` exited {out.returncode}:\n{text[-6000:]}")
        return out

    def spawn(self, *args: str) -> subprocess.Popen:
        """Start the CLI without waiting (to interrupt it); its output goes to a file."""
        out = open(self.dir.parent / f"spawn-{len(self.log)}.log", "w+")
        cmd = ["pulumi", *args, "--non-interactive"]
        # Its own process group: a signal reaches the CLI and the language host together, as Ctrl-C
        # in a terminal or a cancelled CI job does (interrupt()).
        proc = subprocess.Popen(cmd, cwd=self.dir, env=self.env, stdout=out, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        proc.output_file = out  # type: ignore[attr-defined]
        self.log.append((cmd, ""))
        return proc

    def interrupt(self, proc: subprocess.Popen, sig: int, timeout: int = 300) -> list[int]:
        """Signal a spawned CLI's process group and wait for it. The provider plugins run in
        process groups of their own: after SIGKILL they outlive the CLI (seen in CI, still there
        once the whole run had ended). They are ended here by their process ids, recorded before
        the signal; returns the ids that had to be ended."""
        family = descendants(proc.pid)
        os.killpg(proc.pid, sig)
        proc.wait(timeout=timeout)
        orphans = [pid for pid in family if _alive(pid)]
        for pid in orphans:
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in orphans) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in orphans:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        return orphans

    def init(self, config: dict[str, Any], secrets: Optional[dict[str, str]] = None) -> None:
        """Create the stack with `config` (full keys) and set `secrets` with --secret (value on stdin)."""
        self.write_config(config)
        self.pulumi("stack", "init", self.stack, "--secrets-provider", "passphrase")
        for key, value in (secrets or {}).items():
            self.pulumi("config", "set", "--secret", key, "--stack", self.stack, input=value)

    def _yaml(self) -> YAML:
        y = YAML()
        y.preserve_quotes = True
        return y

    def write_config(self, config: dict[str, Any]) -> None:
        doc: dict[str, Any] = {}
        if self.stack_file.exists():
            doc = self._yaml().load(self.stack_file.read_text()) or {}
        current = doc.get("config") or {}
        # Keep the CLI's own entries (encryption salt, secure values) and replace the rest.
        doc["config"] = {**{k: v for k, v in current.items() if isinstance(v, dict) and "secure" in v}, **config}
        buf = io.StringIO()
        self._yaml().dump(doc, buf)
        self.stack_file.write_text(buf.getvalue())

    def edit(self, change: Callable[[dict[str, Any]], None]) -> None:
        """Change the stack file's config in place (comments and secure values kept)."""
        doc = self._yaml().load(self.stack_file.read_text())
        change(doc["config"])
        buf = io.StringIO()
        self._yaml().dump(doc, buf)
        self.stack_file.write_text(buf.getvalue())

    def stack_args(self) -> list[str]:
        return ["--stack", self.stack]

    def up(self, *extra: str, policy: bool = True, check: bool = True) -> subprocess.CompletedProcess:
        args = ["up", "--yes", *self.stack_args(), *extra]
        if policy:
            args += ["--policy-pack", str(ROOT / "policy")]
        return self.pulumi(*args, check=check)

    def preview(self, *extra: str, policy: bool = True, check: bool = True) -> subprocess.CompletedProcess:
        args = ["preview", *self.stack_args(), *extra]
        if policy:
            args += ["--policy-pack", str(ROOT / "policy")]
        return self.pulumi(*args, check=check)

    def preview_steps(self) -> list[dict[str, Any]]:
        """`pulumi preview --json`'s steps."""
        out = self.preview("--json", policy=False)
        return json.loads(out.stdout).get("steps", [])

    def destroy(self, check: bool = True) -> subprocess.CompletedProcess:
        return self.pulumi("destroy", "--yes", *self.stack_args(), check=check)

    def outputs(self) -> dict[str, Any]:
        return json.loads(self.pulumi("stack", "output", "--json", *self.stack_args()).stdout)

    def state_json(self) -> dict[str, Any]:
        return json.loads(self.pulumi("stack", "export", *self.stack_args()).stdout)

    def state_files_text(self) -> str:
        """Every file of the state backend, as text (to prove a secret is not in it)."""
        return "\n".join(p.read_text(errors="replace") for p in self.state.rglob("*") if p.is_file())

    def resources(self, type_: Optional[str] = None) -> list[dict[str, Any]]:
        res = self.state_json()["deployment"].get("resources") or []
        return [r for r in res if type_ is None or r["type"] == type_]

    def remove(self) -> None:
        self.pulumi("stack", "rm", "--yes", "--force", *self.stack_args(), check=False)


def descendants(pid: int) -> list[int]:
    """The process ids below `pid` (children, their children, ...), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        ppid = int(text.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    """Whether `pid` still runs (a zombie does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def by_type(steps: Iterable[dict[str, Any]]) -> dict[str, list[tuple[str, str]]]:
    """Preview steps as {op: [(type, name)]}, leaving out 'same', the refresh reads (Pulumi.yaml
    refreshes before every operation) and our components (o3:index:*), whose 'update' only
    records new inputs: nothing on the host changes with it."""
    out: dict[str, list[tuple[str, str]]] = {}
    for s in steps:
        *_, types, name = s["urn"].split("::")
        type_ = types.split("$")[-1]
        if s["op"] in ("same", "refresh") or type_.startswith("o3:index:"):
            continue
        out.setdefault(s["op"], []).append((type_, name))
    return {k: sorted(v) for k, v in out.items()}


def http_json(port: int, host: str = "127.0.0.1", timeout: float = 30) -> dict[str, Any]:
    """GET / on a published port, retried while the app is still starting."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://{host}:{port}/", timeout=5) as r:
                return json.loads(r.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


# --- the site the tests deploy -------------------------------------------------------

SITE = "e2e-site"
SITE_CONTAINERS = ("db", "pacs", "pacs-singleton", "view")
VERSIONS = {"db": ("8.0.34", "8.0.35"), "pacs": ("2.8.1", "2.8.2"), "view": ("3.4.2", "3.4.3"), "proxy": ("1.28.0",)}
REPOS = {"db": "o3/mysql", "pacs": "o3-cloud-internal/partner/pacs-cloud", "view": "o3-cloud-internal/partner/view-cloud",
         "proxy": "o3/nginx"}


@dataclass
class StandinReleases:
    registry: str
    refs: dict[str, dict[str, str]]  # component -> version -> reference
    ids: dict[str, str]  # reference -> image id

    def ref(self, component: str, which: int = 0) -> str:
        return self.refs[component][VERSIONS[component][which]]


def stack_config(storage: str, releases: StandinReleases, docker_host: str, nofile_cap: int, name: str = SITE) -> dict:
    """The test daemon's site config for a stack of these tests: a canary running the first
    release of each component from the local registry (the password is set with --secret)."""
    cfg = site_config(storage, docker_host, nofile_cap, name=name, ring="canary")
    cfg["o3:images"] = {c: releases.ref(c) for c in ("db", "pacs", "view")}
    cfg["o3:backup"] = {"retain": 10}
    return cfg
