"""Prove that a site's off-site copies restore: a restore drill, never on the live site.

    python -m ops.drill --stack S [--scratch DIR] [--keep] [--docker-host URL] [--json] [--dir D]

Restores the newest storage snapshot into a scratch folder on this machine and checks every file
its manifest lists, with its checksum; loads the newest nightly dump into a scratch MySQL
container (o3:images.db, no network, removed afterwards) on the site's Docker daemon (a
Kubernetes site: the daemon of --docker-host, else DOCKER_HOST or this machine's) and checks
that its schemas hold exactly the tables, and in each the rows, that the dump recorded. Prints the
snapshots' age (the RPO actually reached), the drill's time and the bytes read, and records the
result in the repository (ops.verify reads it). Exit 1 when anything is missing or differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

from sitespec.guide import SCHEMAS
from sitespec.offsite import MANIFEST, STORAGE_ROOT

from ._cli import OpsError, add_dir_argument, run
from ._offsite import (DUMP_FILE, Restic, Snapshot, compare_counts, counts_query, human_bytes, load, now_iso,
                       parse_counts, read_manifest, row_counts, tables_query, tar)

MYSQL_READY_SECONDS = 240
SCRATCH_PASSWORD_FILE = "/run/o3-drill/password"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1024 * 1024), b""):
            h.update(block)
    return h.hexdigest()


def check_files(root: Path, manifest: dict[str, str]) -> list[str]:
    """Every file the manifest lists is under `root` with its checksum: the problems, one per file."""
    problems = []
    for name, digest in sorted(manifest.items()):
        path = root / name
        if not path.is_file():
            problems.append(f"missing: {name}")
        elif sha256(path) != digest:
            problems.append(f"checksum differs: {name}")
    return problems


class ScratchMySQL:
    """A throwaway MySQL of the site's db image on the site's Docker daemon: no network, a random
    password given as a file, removed with its volume afterwards."""

    def __init__(self, client: Any, image: str, site: str):
        self.client, self.image = client, image
        self.name = f"o3-drill-{site}-{secrets.token_hex(3)}"
        self.password = secrets.token_hex(16)
        self.container: Any = None

    def __enter__(self) -> "ScratchMySQL":
        import docker

        try:
            self.client.images.get(self.image)
        except docker.errors.ImageNotFound:
            self.client.images.pull(self.image)
        self.container = self.client.containers.create(
            self.image, name=self.name, network_mode="none", labels={"o3.drill": "scratch"},
            environment={"MYSQL_ROOT_PASSWORD_FILE": SCRATCH_PASSWORD_FILE})
        self.container.put_archive("/", tar({SCRATCH_PASSWORD_FILE.lstrip("/"): self.password.encode()}, 0o444))
        self.container.start()
        deadline = time.monotonic() + MYSQL_READY_SECONDS
        while True:
            # The entrypoint's first, temporary server does not listen on TCP: 127.0.0.1 answers once the real one runs.
            if self.sql("SELECT 1", check=False)[0] == 0:
                return self
            self.container.reload()
            if self.container.status not in ("running", "created") or time.monotonic() > deadline:
                logs = self.container.logs(tail=10).decode(errors="replace")
                raise OpsError(f"the scratch MySQL ({self.image}) did not start: {' '.join(logs.split())[-300:]}")
            time.sleep(1)

    def __exit__(self, *exc: Any) -> None:
        if self.container is not None:
            try:
                self.container.remove(force=True, v=True)
            except Exception:  # noqa: BLE001 - gone already
                pass

    def sql(self, query: str, check: bool = True) -> tuple[int, str]:
        code, (out, err) = self.container.exec_run(["mysql", "-h127.0.0.1", "-uroot", "-N", "-B", "-e", query],
                                                   environment={"MYSQL_PWD": self.password}, demux=True)
        text = (out or b"").decode(errors="replace")
        if check and code != 0:
            raise OpsError(f"the scratch MySQL refused a query: {(err or b'').decode(errors='replace').strip()[:300]}")
        return code, text

    def load(self, dump: Path) -> None:
        self.container.put_archive("/tmp", tar({"o3-dump.sql": dump}, 0o444))
        code, (out, err) = self.container.exec_run(
            ["sh", "-c", "mysql -h127.0.0.1 -uroot < /tmp/o3-dump.sql"],
            environment={"MYSQL_PWD": self.password}, demux=True)
        if code != 0:
            raise DrillFailure(f"the dump does not load: {(err or b'').decode(errors='replace').strip()[:300]}")

    def counts(self, schemas: Sequence[str]) -> dict[str, int]:
        tables = [t for t in self.sql(tables_query(schemas))[1].split() if t]
        return parse_counts(self.sql(counts_query(tables))[1]) if tables else {}


class DrillFailure(Exception):
    """What the drill found wrong with the copies (not a problem of the drill itself)."""


@contextmanager
def scratch_folder(parent: Optional[Path], keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="o3-drill-", dir=parent))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


def drill_storage(r: Restic, snap: Snapshot, scratch: Path) -> tuple[int, int, list[str]]:
    """(files checked, bytes restored, problems)."""
    target = scratch / "storage"
    try:
        summary = r.restore(snap, target)
    except OpsError as e:
        raise DrillFailure(f"the storage snapshot {snap.short_id} does not restore: {e}") from None
    manifest_path = target / MANIFEST.lstrip("/")
    if not manifest_path.is_file():
        raise DrillFailure(f"the storage snapshot {snap.short_id} has no manifest {MANIFEST}")
    manifest = read_manifest(manifest_path.read_text())
    problems = check_files(target / STORAGE_ROOT.lstrip("/"), manifest)
    restored = int(summary.get("total_bytes") or summary.get("bytes_restored") or 0)
    return len(manifest), restored, problems


def drill_dump(r: Restic, snap: Snapshot, scratch: Path, client: Any, image: str, site: str) -> tuple[int, int, int, list[str]]:
    """(tables, rows, bytes, problems)."""
    dump = scratch / "o3-dump.sql"
    try:
        size = r.dump(snap, DUMP_FILE, dump)
    except OpsError as e:
        raise DrillFailure(f"the dump snapshot {snap.short_id} does not restore: {e}") from None
    try:
        expected = row_counts(dump)
    except OpsError as e:
        raise DrillFailure(f"dump snapshot {snap.short_id}: {e}") from None
    with ScratchMySQL(client, image, site) as db:
        db.load(dump)
        found = db.counts(SCHEMAS)
    return len(expected), sum(expected.values()), size, compare_counts(expected, found)


def scratch_daemon(cfg: Any, docker_host: Optional[str]) -> Any:
    """Where the scratch MySQL runs: the Docker site's own daemon; for a Kubernetes site (whose
    cluster the drill never touches) --docker-host, else DOCKER_HOST or this machine's."""
    from ._site import connect, open_site

    if cfg.platform != "kubernetes":
        return open_site(cfg).client
    client = connect(docker_host)
    try:
        client.ping()
    except Exception as e:  # noqa: BLE001
        raise OpsError(f"the drill's scratch MySQL needs a Docker daemon: cannot reach "
                       f"{docker_host or os.environ.get('DOCKER_HOST') or 'the local one'} (--docker-host): {e}") from None
    return client


def drill(cfg: Any, off: Any, scratch_parent: Optional[Path], keep: bool, docker_host: Optional[str] = None) -> dict:

    start = time.monotonic()
    result: dict = {"ok": False, "at": now_iso(), "site": off.site_id}
    with Restic(off.operator, off.site_id) as r:
        r.open()
        dump_snap, storage_snap = r.newest("dump", "nightly"), r.newest("storage")
        missing = [k for k, s in (("nightly dump", dump_snap), ("storage", storage_snap)) if s is None]
        if missing:
            result["detail"] = f"no {' and no '.join(missing)} snapshot of site {off.site_id} in the repository"
        else:
            assert dump_snap and storage_snap
            now = time.time()
            result.update(dump=dump_snap.short_id, storage=storage_snap.short_id,
                          dump_age_hours=round(dump_snap.age_hours(now), 2),
                          storage_age_hours=round(storage_snap.age_hours(now), 2))
            client = scratch_daemon(cfg, docker_host)
            with scratch_folder(scratch_parent, keep) as scratch:
                try:
                    files, restored, file_problems = drill_storage(r, storage_snap, scratch)
                    tables, rows, dumped, row_problems = drill_dump(r, dump_snap, scratch, client, cfg.images.db,
                                                                    off.site_id)
                    problems = file_problems + row_problems
                    result.update(files=files, tables=tables, rows=rows, bytes_read=restored + dumped,
                                  ok=not problems)
                    result["detail"] = ("; ".join(problems[:10]) + (f" (and {len(problems) - 10} more)"
                                                                   if len(problems) > 10 else "")) if problems else \
                        f"{files} files with their checksums, {tables} tables and {rows} rows"
                except DrillFailure as e:
                    result["detail"] = str(e)
                if keep:
                    print(f"drill: the restored copy is kept in {scratch}")
        result["seconds"] = round(time.monotonic() - start, 1)
        r.record("drill", result)
    return result


def _main(argv: Optional[Sequence[str]]) -> int:
    p = argparse.ArgumentParser(prog="python -m ops.drill", description=__doc__.split("\n\n")[0])
    p.add_argument("--stack", required=True, help="site stack (Pulumi.<stack>.yaml)")
    p.add_argument("--scratch", type=Path, help="folder for the scratch copy (default: the system's temp folder)")
    p.add_argument("--keep", action="store_true", help="keep the restored copy (its folder is printed)")
    p.add_argument("--docker-host", help="a Kubernetes site: the Docker daemon of the scratch MySQL "
                                          "(default: DOCKER_HOST, else this machine's)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_dir_argument(p)
    args = p.parse_args(argv)
    if args.scratch is not None and not args.scratch.is_dir():
        raise OpsError(f"--scratch {args.scratch}: not a folder")
    cfg, off = load(args.stack, args.dir)
    if args.docker_host and cfg.platform != "kubernetes":
        raise OpsError("--docker-host is for a Kubernetes site: a Docker site's drill runs on its own host (docker:host)")
    result = drill(cfg, off, args.scratch, args.keep, args.docker_host)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        verdict = "passed" if result["ok"] else "FAILED"
        print(f"drill: site {off.site_id}: {verdict}: {result['detail']}")
        if "dump_age_hours" in result:
            rpo = max(result["dump_age_hours"], result["storage_age_hours"])
            print(f"drill: RPO reached {rpo:.1f} h (dump {result['dump']} {result['dump_age_hours']:.1f} h old, "
                  f"storage {result['storage']} {result['storage_age_hours']:.1f} h old; o3:offsite.rpoHours "
                  f"{off.rpo_hours:g})")
        read = f", {human_bytes(result['bytes_read'])} read" if "bytes_read" in result else ""
        print(f"drill: took {result['seconds']:.1f} s{read}; the result is recorded in the repository")
    return 0 if result["ok"] else 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run(_main, "drill", argv)


if __name__ == "__main__":
    sys.exit(main())
