"""A site's off-site restic repository as the operator's commands see it (offsite, drill, recover,
verify, the rollout's preflight).

restic runs on the operator's machine (`$O3_RESTIC`, else `restic` on PATH), with the operator's
credential (`o3:offsite.operator`, each part defaulting to the site's). Secrets reach restic only
as files in a private temporary folder (the password, the CA, the SSH key) or as restic's own
environment variables (the REST password): never on a command line, and every error line restic
prints is scrubbed of them before it is shown.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import io
import shutil
import socket
import tarfile
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence
from urllib.parse import urlparse

from sitespec.config.secret_keys import SECRET_KEYS
from sitespec.offsite import (CHECK_TAG, DRILL_TAG, DUMP_FILENAME, DUMP_TAG, ROW_COUNTS_PREFIX, STATUS_PREFIX, STORAGE_TAG,
                              TAG, site_id)

from ._checks import FAIL, PASS, WARN, Check
from ._cli import OpsError

DUMP_FILE = f"/{DUMP_FILENAME}"
"""The dump's path in a dump snapshot (`--stdin-filename`)."""
RECORD_KINDS = (DRILL_TAG, CHECK_TAG)
RESTIC_VERSION = "0.18.1"


@dataclass(frozen=True)
class Credential:
    """How to reach the repository, and with whose rights."""

    repository: str
    password: str
    http_user: str = ""
    http_password: str = ""
    ssh_key: str = ""
    known_hosts: str = ""
    ca_cert: str = ""

    @property
    def secrets(self) -> list[str]:
        return [s for s in (self.password, self.http_password, self.ssh_key) if s]


@dataclass(frozen=True)
class OffsiteAccess:
    """A site's off-site copies as the operator reaches them."""

    site_id: str
    """The `--host` of every snapshot of the site."""
    operator: Credential
    site: Optional[Credential] = None
    """The site's own credential (what its host uses: append-only, no deletes)."""
    rpo_hours: float = 26
    retention: dict[str, int] = field(default_factory=dict)
    """restic's flags without the dashes: {"keep-daily": 7, ...}."""


def _get(obj: Any, *names: str, default: Any = "") -> Any:
    for n in names:
        if obj is None:
            return default
        obj = obj.get(n) if isinstance(obj, dict) else getattr(obj, n, None)
    return default if obj is None else obj


def _secret(v: Any) -> str:
    if v is None:
        return ""
    if hasattr(v, "get_secret_value"):
        return v.get_secret_value()
    return str(v)


def from_config(cfg: Any, site_id: str) -> Optional[OffsiteAccess]:
    """The stack's o3:offsite (None when absent), the operator's parts defaulting to the site's.
    The secret keys must have been decrypted into `cfg` (see `load`)."""
    o = getattr(cfg, "offsite", None)
    if o is None:
        return None
    op = o.operator
    cred = Credential(repository=op.repository or o.repository, password=cfg.offsite_password or "",
                      http_user=op.http_user or o.http_user or "",
                      http_password=cfg.offsite_operator_http_password or cfg.offsite_http_password or "",
                      ssh_key=cfg.offsite_operator_ssh_key or cfg.offsite_ssh_key or "",
                      known_hosts=o.known_hosts or "", ca_cert=o.ca_cert or "")
    site = Credential(repository=o.repository, password=cfg.offsite_password or "", http_user=o.http_user or "",
                      http_password=cfg.offsite_http_password or "", ssh_key=cfg.offsite_ssh_key or "",
                      known_hosts=o.known_hosts or "", ca_cert=o.ca_cert or "")
    r = o.retention
    retention = {f"keep-{n}": getattr(r, f"keep_{n}") for n in ("daily", "weekly", "monthly", "yearly")
                 if getattr(r, f"keep_{n}")}
    return OffsiteAccess(site_id=site_id, operator=cred, site=site, rpo_hours=float(o.rpo_hours), retention=retention)


def restic_binary() -> str:
    path = os.environ.get("O3_RESTIC") or shutil.which("restic")
    if not path or not Path(path).is_file():
        raise OpsError(f"restic is not on this machine: install restic {RESTIC_VERSION} (a static binary: "
                       f"https://github.com/restic/restic/releases/tag/v{RESTIC_VERSION}, or `go install "
                       f"github.com/restic/restic/cmd/restic@v{RESTIC_VERSION}`) or set O3_RESTIC to its path")
    return path


def parse_time(value: str) -> float:
    """restic's RFC 3339 time (nanoseconds, offsets) as epoch seconds."""
    head, _, rest = value.partition(".")
    tz = ""
    if rest:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        tz = rest[digits:]
    elif value.endswith("Z") or "+" in value[10:] or "-" in value[10:]:
        head, tz = value[:19], value[19:]
    tz = "+00:00" if tz in ("Z", "") else tz
    return dt.datetime.fromisoformat(head[:19] + tz).timestamp()


def masked(text: str, secrets: Sequence[str]) -> str:
    """`text` with every one of `secrets` replaced by <secret>."""
    for s in secrets:
        text = text.replace(s, "<secret>")
    return text


def explain(stderr: str, cred: Credential) -> str:
    """restic's failure as one line that says what to fix."""
    text = masked(stderr, cred.secrets)
    said = " ".join(text.split())[-300:]
    repo = cred.repository
    if "wrong password" in text or "no key found" in text:
        return f"the repository password (o3:offsitePassword) does not open {repo}"
    if "Is there a repository at the following location" in text or "repository does not exist" in text \
            or "config file does not exist" in text:
        return f"there is no restic repository at {repo} (o3:offsite.repository): {said}"
    if "401" in text or "Unauthorized" in text:
        return f"{repo} refused the operator's login (o3:offsite.operator.httpUser / o3:offsiteOperatorHttpPassword): {said}"
    if any(s in text for s in ("connection refused", "no such host", "i/o timeout", "network is unreachable",
                               "no route to host", "dial tcp", "certificate", "ssh command exited",
                               "unable to start the sftp session", "Connection refused")):
        return f"cannot reach the repository {repo}: {said}"
    return f"restic failed on {repo}: {said}"


PROBE_SECONDS = 10


def probe(repository: str) -> None:
    """A rest: or sftp: repository's server answers on its port: restic itself retries for minutes."""
    scheme, _, rest = repository.partition(":")
    if scheme == "rest":
        u = urlparse(rest)
        host, port = u.hostname, u.port or (443 if u.scheme == "https" else 80)
    elif scheme == "sftp":
        target = rest.split(":", 1)[0].rsplit("@", 1)[-1]
        host, port = target, 22
    else:
        return
    try:
        socket.create_connection((host, port), timeout=PROBE_SECONDS).close()
    except OSError as e:
        raise OpsError(f"cannot reach the repository {repository} (o3:offsite.repository): {host}:{port}: "
                       f"{getattr(e, 'strerror', None) or e}") from None


@dataclass
class Snapshot:
    id: str
    short_id: str
    time: float
    tags: list[str]
    paths: list[str]
    host: str
    summary: dict

    @classmethod
    def of(cls, d: dict) -> "Snapshot":
        return cls(d["id"], d.get("short_id", d["id"][:8]), parse_time(d["time"]), d.get("tags") or [],
                   d.get("paths") or [], d.get("hostname", ""), d.get("summary") or {})

    def age_hours(self, now: Optional[float] = None) -> float:
        return ((now or time.time()) - self.time) / 3600


class Restic:
    """restic on one repository with one credential; a context manager (its secrets' folder)."""

    def __init__(self, cred: Credential, site_id: str = ""):
        self.cred, self.site_id = cred, site_id
        self.binary = restic_binary()
        self.dir: Optional[Path] = None

    def __enter__(self) -> "Restic":
        self.dir = Path(tempfile.mkdtemp(prefix="o3-restic-"))
        os.chmod(self.dir, 0o700)
        self._write("password", self.cred.password)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
        self.env.update(RESTIC_PASSWORD_FILE=str(self.dir / "password"), RESTIC_CACHE_DIR=str(self.dir / "cache"),
                        RESTIC_PROGRESS_FPS="0.2")
        self.options: list[str] = ["--no-cache"]
        if self.cred.ca_cert:
            self.options += ["--cacert", str(self._write("ca.pem", self.cred.ca_cert))]
        if self.cred.http_user:
            self.env.update(RESTIC_REST_USERNAME=self.cred.http_user, RESTIC_REST_PASSWORD=self.cred.http_password)
        if self.cred.ssh_key:
            key = self._write("ssh_key", self.cred.ssh_key.rstrip("\n") + "\n")
            args = f"-i {key} -o IdentitiesOnly=yes -o BatchMode=yes"
            if self.cred.known_hosts:
                kh = self._write("known_hosts", self.cred.known_hosts.rstrip("\n") + "\n")
                args += f" -o UserKnownHostsFile={kh} -o StrictHostKeyChecking=yes"
            self.options += ["-o", f"sftp.args={args}"]
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _write(self, name: str, text: str) -> Path:
        assert self.dir is not None
        path = self.dir / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return path

    def run(self, *args: str, stdin: Optional[bytes] = None, stdout: Any = subprocess.PIPE,
            check: bool = True, timeout: Optional[float] = None) -> subprocess.CompletedProcess:
        assert self.dir is not None, "use Restic as a context manager"
        cmd = [self.binary, "-r", self.cred.repository, *self.options, *args]
        try:
            out = subprocess.run(cmd, input=stdin, stdout=stdout, stderr=subprocess.PIPE, env=self.env,
                                 timeout=timeout, stdin=None if stdin is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise OpsError(f"cannot reach the repository {self.cred.repository}: restic did not answer "
                           f"within {timeout:.0f} s") from None
        if check and out.returncode != 0:
            raise OpsError(explain(out.stderr.decode(errors="replace"), self.cred))
        return out

    def json(self, *args: str, **kw: Any) -> Any:
        out = self.run(*args, "--json", **kw).stdout.decode()
        return json.loads(out) if out.strip() else None

    # --- what the commands read ---------------------------------------------------------------
    def open(self) -> None:
        """The repository is reachable and the password opens it (one clear line otherwise)."""
        probe(self.cred.repository)
        self.run("cat", "config", timeout=120)

    def snapshots(self, *tags: str, host: Optional[str] = None) -> list[Snapshot]:
        args = ["snapshots", "--tag", ",".join((TAG,) + tags)]
        if host or self.site_id:
            args += ["--host", host or self.site_id]
        found = [Snapshot.of(d) for d in self.json(*args) or []]
        return sorted(found, key=lambda s: s.time)

    def all_hosts(self) -> set[str]:
        return {s.get("hostname", "") for s in self.json("snapshots") or []}

    def newest(self, *tags: str) -> Optional[Snapshot]:
        found = self.snapshots(*tags)
        return found[-1] if found else None

    def find(self, snapshot_id: str) -> Snapshot:
        """A snapshot of this site by its id or short id."""
        for s in self.snapshots():
            if s.id.startswith(snapshot_id) or s.short_id == snapshot_id:
                return s
        raise OpsError(f"--snapshot {snapshot_id}: no snapshot of site {self.site_id} has that id in "
                       f"{self.cred.repository}")

    def dump(self, snap: Snapshot, path: str, dest: Path) -> int:
        with open(dest, "wb") as f:
            self.run("dump", snap.id, path, stdout=f)
        return dest.stat().st_size

    def restore(self, snap: Snapshot, target: Path, *includes: str) -> dict:
        """restic's summary of the restore; OpsError naming how many files failed, and the first."""
        args = ["restore", snap.id, "--target", str(target)]
        for inc in includes:
            args += ["--include", inc]
        out = self.run(*args, "--json", check=False)
        summary: dict = {}
        errors: list[dict] = []
        for line in (out.stdout + out.stderr).decode(errors="replace").splitlines():
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if d.get("message_type") == "summary":
                summary = d
            elif d.get("message_type") == "error":
                errors.append(d)
        if errors:
            first = errors[0]
            said = (first.get("error") or {}).get("message", "") if isinstance(first.get("error"), dict) else first.get("error")
            raise OpsError(f"{len(errors)} error(s) restoring snapshot {snap.short_id}, the first on "
                           f"{first.get('item', '?')}: {str(said)[:200]}")
        if out.returncode != 0:
            raise OpsError(explain(out.stderr.decode(errors="replace"), self.cred))
        return summary

    def record(self, kind: str, result: dict) -> None:
        """A drill's or a check's result, kept in the repository beside the site's snapshots."""
        assert kind in RECORD_KINDS
        body = json.dumps(result, sort_keys=True).encode()
        self.run("backup", "--stdin", "--stdin-filename", f"{kind}.json", "--tag", TAG, "--tag", kind,
                 "--host", self.site_id, stdin=body)

    def last_record(self, kind: str) -> Optional[dict]:
        snap = self.newest(kind)
        if snap is None:
            return None
        out = self.run("dump", snap.id, f"/{kind}.json", check=False)
        if out.returncode != 0:
            return {"ok": False, "at": dt.datetime.fromtimestamp(snap.time, dt.timezone.utc).isoformat(),
                    "detail": f"its record {snap.short_id} cannot be read: {explain(out.stderr.decode(errors='replace'), self.cred)}"}
        try:
            return json.loads(out.stdout)
        except ValueError:
            return {"ok": False, "at": "", "detail": f"its record {snap.short_id} is not JSON"}


def read_manifest(text: str) -> dict[str, str]:
    """sha256sum lines -> {relative path: checksum}."""
    out = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        digest, _, name = line.partition(" ")
        out[name.lstrip(" *")] = digest
    return out


def row_counts(dump: Path) -> dict[str, int]:
    """The dump's `-- o3-row-counts` line (its last lines), or an OpsError saying it is missing."""
    with open(dump, "rb") as f:
        f.seek(max(0, dump.stat().st_size - 1024 * 1024))
        tail = f.read().decode(errors="replace").splitlines()
    for line in reversed(tail):
        if line.startswith(ROW_COUNTS_PREFIX):
            return {k: int(v) for k, v in json.loads(line[len(ROW_COUNTS_PREFIX):]).items()}
    raise OpsError("the dump has no `-- o3-row-counts` line: it is not one the site's backup wrote, or it is truncated")


def tables_query(schemas: Sequence[str]) -> str:
    listed = ",".join(f"'{s}'" for s in schemas)
    return ("SELECT CONCAT(table_schema, '.', table_name) FROM information_schema.tables "
            f"WHERE table_schema IN ({listed}) AND table_type = 'BASE TABLE'")


def counts_query(tables: Sequence[str]) -> str:
    """One query: a `name<TAB>rows` line per `schema.table`."""
    return " UNION ALL ".join(f"SELECT '{t}', COUNT(*) FROM `{t.split('.', 1)[0]}`.`{t.split('.', 1)[1]}`"
                              for t in tables)


def parse_counts(out: str) -> dict[str, int]:
    return {line.split("\t")[0]: int(line.split("\t")[1]) for line in out.splitlines() if "\t" in line}


def compare_counts(expected: dict[str, int], found: dict[str, int]) -> list[str]:
    """What differs between the rows the dump recorded and the rows a database holds."""
    problems = []
    for t in sorted(set(expected) | set(found)):
        if t not in found:
            problems.append(f"table missing: {t}")
        elif t not in expected:
            problems.append(f"table not in the dump's record: {t}")
        elif found[t] != expected[t]:
            problems.append(f"{t}: {found[t]} rows, the dump recorded {expected[t]}")
    return problems


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def join(tags: Sequence[str]) -> str:
    return ",".join(tags)


# --- the stack's o3:offsite, its secrets decrypted by the Pulumi CLI ----------------------------

OFFSITE_SECRETS = tuple(k for k in SECRET_KEYS if k.startswith("offsite"))


def decrypted(stack: str, root: Path, keys: Sequence[str]) -> dict[str, str]:
    """The stack's secret `keys` (full names), as the Pulumi CLI decrypts them (the stack's
    passphrase or secrets provider, from the environment as `pulumi up` has it)."""
    if not shutil.which("pulumi"):
        raise OpsError(f"{', '.join(keys)} are secrets, and reading them needs the Pulumi CLI: put `pulumi` on "
                       "PATH (scripts/deploy says how)")
    out = subprocess.run(["pulumi", "config", "--stack", stack, "--show-secrets", "--json"],
                         cwd=root, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        said = " ".join(out.stderr.split())[-300:]
        hint = (" (set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE)" if "passphrase" in said.lower() else "")
        raise OpsError(f"cannot decrypt the off-site secrets of stack {stack}{hint}: {said}")
    values = json.loads(out.stdout)
    return {k: str((values.get(k) or {}).get("value") or "") for k in keys if (values.get(k) or {}).get("value")}


def load(stack: str, root: Path, *, required: bool = True) -> tuple[Any, Optional[OffsiteAccess]]:
    """The stack's SiteConfig and its off-site repository, the secrets decrypted (None when
    o3:offsite is absent and not `required`)."""
    from sitespec.stackfile import read_raw, validate

    raw, secure = read_raw(stack, root)
    wanted = [f"o3:{k}" for k in OFFSITE_SECRETS if f"o3:{k}" in secure]
    secrets = decrypted(stack, root, wanted) if wanted and raw.get("o3:offsite") not in (None, {}, "{}") else {}
    cfg = validate(raw, secure, secrets)
    off = from_config(cfg, site_id(cfg))
    if off is None and required:
        raise OpsError(f"stack {stack} has no o3:offsite: there is no off-site repository to use "
                       "(README: Backups and disaster recovery)")
    if off is not None and not off.operator.password:
        raise OpsError(f"o3:offsitePassword of stack {stack} is not set: without it no snapshot can be read")
    return cfg, off


# --- the checks ops.verify and the rollout's gate make on the repository ------------------------

def check_fresh(r: Restic, off: OffsiteAccess, now: Optional[float] = None) -> Check:
    """The newest dump and storage snapshots are both within o3:offsite.rpoHours."""
    now = now or time.time()
    newest = {kind: r.newest(kind) for kind in (DUMP_TAG, STORAGE_TAG)}
    missing = [k for k, s in newest.items() if s is None]
    fix = (f"see the site's `{STATUS_PREFIX}` lines (docker logs o3-offsite, or the CronJob's jobs) and take one "
           "now; ops.offsite snapshots lists what the repository holds")
    if missing:
        return Check("off-site", FAIL, f"no {' and no '.join(missing)} snapshot of site {off.site_id} in "
                     f"{off.operator.repository}", fix)
    ages = {k: s.age_hours(now) for k, s in newest.items() if s is not None}
    oldest = max(ages, key=lambda k: ages[k])
    shown = ", ".join(f"{k} {newest[k].short_id} {ages[k]:.1f} h old" for k in ages)  # type: ignore[union-attr]
    if ages[oldest] > off.rpo_hours:
        return Check("off-site", FAIL, f"the newest {oldest} snapshot is {ages[oldest]:.1f} h old, older than "
                     f"o3:offsite.rpoHours {off.rpo_hours:g} ({shown})", fix)
    return Check("off-site", PASS, f"newest snapshots within o3:offsite.rpoHours {off.rpo_hours:g}: {shown}")


def check_record(r: Restic, kind: str) -> Check:
    """The last drill or check the operator recorded passed."""
    name = f"off-site {kind}"
    how = "python -m ops.drill --stack S" if kind == DRILL_TAG else "python -m ops.offsite check --stack S"
    rec = r.last_record(kind)
    if rec is None:
        return Check(name, WARN, f"no {kind} recorded yet", f"run `{how}`")
    said = f"{rec.get('at', '?')}: {rec.get('detail', '')}"[:300]
    if not rec.get("ok"):
        return Check(name, FAIL, f"the last {kind} failed ({said})",
                     f"the copies do not restore as they should: run `{how}` to see it again, then take a fresh "
                     "backup (and, for a damaged repository, `restic check` and `restic repair` with the operator's credential)")
    return Check(name, PASS, f"the last {kind} passed ({said})")


def check_site_status(status: Optional[dict]) -> Optional[Check]:
    """The site side's last off-site run (its status file), when the platform can read it."""
    if status is None:
        return None
    if status == {}:
        return Check("off-site run", WARN, "the site has not sent a copy off-site yet",
                     "wait for o3:offsite.schedule, or look at the o3-offsite container's log (Kubernetes: its CronJob's Jobs)")
    if status.get("ok") is False:
        return Check("off-site run", FAIL, f"the site's last off-site backup ({status.get('at', '?')}) failed: "
                     f"{status.get('message', '')}"[:400], "see the o3-offsite container's log on the host")
    return Check("off-site run", PASS, f"the site's last off-site backup ({status.get('at', '?')}) succeeded"
                 + (f", snapshot {status['snapshot']}" if status.get("snapshot") else ""))


def offsite_checks(off: Optional[OffsiteAccess], status: Optional[dict] = None) -> list[Check]:
    if off is None:
        return [Check("off-site", WARN, "not configured: the site's data has no copy off its own host",
                      "set o3:offsite (README: Backups and disaster recovery)")]
    checks = [c for c in (check_site_status(status),) if c is not None]
    try:
        with Restic(off.operator, off.site_id) as r:
            r.open()
            checks.append(check_fresh(r, off))
            checks += [check_record(r, DRILL_TAG), check_record(r, CHECK_TAG)]
    except OpsError as e:
        checks.append(Check("off-site", FAIL, str(e), "the repository must be reachable from the operator's machine"))
    return checks


def tar(files: dict[str, "bytes | Path"], mode: int = 0o400) -> Any:
    """A tar stream (a temporary file) of `files` (name in the archive -> content or a local file), for put_archive."""
    buf = tempfile.TemporaryFile()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, content in files.items():
            if isinstance(content, Path):
                info = t.gettarinfo(str(content), arcname=name)
                info.mode = mode
                with open(content, "rb") as f:
                    t.addfile(info, f)
            else:
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(content), mode
                t.addfile(info, io.BytesIO(content))
    buf.seek(0)
    return buf
