"""Bring a site back on a new host from its off-site repository (its host, storage or disk is gone).

    python -m ops.recover --stack S [--snapshot ID] [--yes] [--dir D]

First point the stack file at the replacement host (docker:host: a one-line change, reviewed like
any other). Then, before anything on the new host is touched, it checks: the repository is
reachable and the password opens it; it holds this site's snapshots (not another site's); the
snapshot exists (--snapshot: a storage or dump snapshot's id; default the newest); the new host
holds no site's data (containers or files in the data folders) unless --yes. Then: `pulumi up`
builds the site empty on the new host (the lost host's resources are dropped from the state
first: they cannot be reached to be deleted); the apps are stopped; the DICOM storage and the
shared-persist folders are restored from the storage snapshot by o3:images.restic on the new
host (every file checked against the manifest), and the nightly dump is loaded; the apps start;
the rows are compared with the dump's record; ops.verify runs. Prints the recovery time (RTO)
with each stage's share. Exit 1 when a stage fails, 2 on bad input (nothing touched).

On Kubernetes (the namespace, its volumes, or the cluster are gone; the stack file names the
cluster, `kubernetes:kubeconfig`, and the namespace): the target must hold no volume claim of a
site unless --yes; the namespace's objects are dropped from the state and `pulumi up` builds the
site empty; pacs, pacs-singleton and view are scaled to 0; a Job made from the site's own
CronJob o3-offsite (its image, Secret and NetworkPolicy) restores the storage snapshot into the
data volume, checks every file against the manifest and puts the dump in the backups folder;
the dump script's check and restore load it; the apps are scaled back; rows and ops.verify as above.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

from sitespec.guide import BACKUPS_MOUNT, DB_CONTAINER, FOLDERS, PACS_CONTAINER, SCHEMAS, SINGLETON_CONTAINER, VIEW_CONTAINER
from sitespec.offsite import CONTAINER as OFFSITE_CONTAINER
from sitespec.offsite import KUBE_SCRIPTS, MANIFEST, SECRETS_DIR, STORAGE_PATHS, STORAGE_ROOT

from ._cli import OpsError, add_dir_argument, run
from ._offsite import (DUMP_FILE, OffsiteAccess, Restic, Snapshot, compare_counts, counts_query, masked,
                       load, parse_counts, row_counts, tables_query, tar)
from ._platform import mysql_command
from ._site import DeployedSite, Exec, apps_stopped, connect

APPS = (PACS_CONTAINER, SINGLETON_CONTAINER, VIEW_CONTAINER)
DATA_ROLES = ("db", *STORAGE_PATHS)  # a new host with files in these holds a site already
DUMP_NAME = "o3-manual-recovered-{id}.sql.gz"  # kept like a manual dump (the maintenance script's check and restore load it)


class Stages:
    """Each stage's time, for the RTO line."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.times: list[tuple[str, float]] = []

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t = time.monotonic()
        print(f"recover: {name} ...", flush=True)
        yield
        self.times.append((name, time.monotonic() - t))
        print(f"recover: {name}: done in {self.times[-1][1]:.1f} s", flush=True)

    def report(self) -> str:
        total = time.monotonic() - self.start
        shares = ", ".join(f"{n} {s:.0f} s ({100 * s / total:.0f} %)" for n, s in self.times)
        return f"RTO {total:.0f} s ({total / 60:.1f} min): {shares}"


def pick(r: Restic, snapshot_id: Optional[str]) -> tuple[Snapshot, Snapshot]:
    """(storage snapshot, nightly dump snapshot): the given one and, of the other kind, the newest
    not after it; by default the newest of each."""
    storage, dumps = r.snapshots("storage"), r.snapshots("dump", "nightly")
    if snapshot_id:
        chosen = r.find(snapshot_id)
        if "storage" in chosen.tags:
            before = [d for d in dumps if d.time <= chosen.time + 3600] or dumps
            if not before:
                raise OpsError(f"site has no nightly dump snapshot to go with storage snapshot {chosen.short_id}")
            return chosen, before[-1]
        if "dump" in chosen.tags:
            before = [s for s in storage if s.time <= chosen.time + 3600] or storage
            if not before:
                raise OpsError(f"site has no storage snapshot to go with dump snapshot {chosen.short_id}")
            return before[-1], chosen
        raise OpsError(f"--snapshot {snapshot_id}: snapshot {chosen.short_id} is a {','.join(chosen.tags)} record, "
                       "not a storage or dump snapshot")
    missing = [k for k, found in (("storage", storage), ("nightly dump", dumps)) if not found]
    if missing:
        raise OpsError(f"the repository holds no {' and no '.join(missing)} snapshot of site {r.site_id}: "
                       "there is nothing to recover from")
    return storage[-1], dumps[-1]


def belongs(r: Restic, off: OffsiteAccess) -> None:
    """The repository holds this site's snapshots, not (only) another site's."""
    if not r.snapshots():
        hosts = sorted(h for h in r.all_hosts() if h)
        if hosts:
            raise OpsError(f"the repository {off.operator.repository} belongs to another site ({', '.join(hosts)}), "
                           f"not to {off.site_id}: check o3:offsite.repository and o3:site.name")
        raise OpsError(f"the repository {off.operator.repository} holds no snapshot at all: nothing to recover from")


def target_data(cfg: Any, client: Any) -> list[str]:
    """What on the new host already belongs to a site: its containers, files in its data folders."""
    import docker

    found = [f"container {c.name}" for c in client.containers.list(all=True, filters={"label": "o3.site"})]
    paths = " ".join(shlex.quote(f"{cfg.site.storage_path}/{FOLDERS[role]}") for role in DATA_ROLES)
    script = f"for d in {paths}; do [ -d \"/host$d\" ] && [ -n \"$(ls -A \"/host$d\" 2>/dev/null)\" ] && echo \"$d\"; done; true"
    try:
        client.images.get(cfg.images.db)
    except docker.errors.ImageNotFound:
        client.images.pull(cfg.images.db)
    out = client.containers.run(cfg.images.db, [script], entrypoint=["/bin/sh", "-c"], remove=True, network_mode="none",
                                volumes={"/": {"bind": "/host", "mode": "ro"}})
    found += [f"files in {d}" for d in out.decode().split()]
    return found


def drop_lost_host(stack: str, root: Path, packages: Sequence[str] = ("docker", "command")) -> int:
    """Remove from the stack's state the resources that lived on the lost host (Docker and command
    resources; on Kubernetes the namespace's objects): `pulumi up` would otherwise try to delete
    them there, and they cannot be reached, or are gone already."""
    out = pulumi(root, "stack", "export", "--stack", stack)
    state = json.loads(out)
    res = state.get("deployment", {}).get("resources") or []
    gone = {r["urn"] for r in res if r["type"].split(":")[0] in packages}
    if not gone:
        return 0
    kept = []
    for r in res:
        if r["urn"] in gone:
            continue
        r["dependencies"] = [d for d in r.get("dependencies") or [] if d not in gone]
        r["propertyDependencies"] = {k: [d for d in v if d not in gone] for k, v in (r.get("propertyDependencies") or {}).items()}
        kept.append(r)
    state["deployment"]["resources"] = kept
    state["deployment"].pop("pending_operations", None)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(state, f)
    try:
        pulumi(root, "stack", "import", "--stack", stack, "--file", f.name)
    finally:
        os.unlink(f.name)
    return len(gone)


def pulumi(root: Path, *args: str) -> str:
    out = subprocess.run(["pulumi", *args, "--non-interactive"], cwd=root, capture_output=True, text=True,
                         stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        raise Failed(f"`pulumi {' '.join(args[:2])}` failed: {(out.stdout + out.stderr)[-1500:]}")
    return out.stdout


class Failed(Exception):
    """A stage that failed after the new host was touched."""


def restore_storage(cfg: Any, off: OffsiteAccess, client: Any, snap: Snapshot) -> str:
    """The storage snapshot restored by o3:images.restic on the new host, straight into the site's
    folders, with the site's own credential (given as files; the operator's never goes there);
    every file then checked against the manifest. Returns what restic said it restored."""
    cred = off.site or off.operator
    secrets: dict[str, Any] = {"password": cred.password.encode()}
    env = {"RESTIC_REPOSITORY": cred.repository, "RESTIC_PASSWORD_FILE": f"{SECRETS_DIR}/password"}
    pre = ""
    if cred.http_user:
        env["RESTIC_REST_USERNAME"] = cred.http_user
        secrets["http-password"] = cred.http_password.encode()
        pre += f'RESTIC_REST_PASSWORD="$(cat {SECRETS_DIR}/http-password)"; export RESTIC_REST_PASSWORD; '
    if cred.ca_cert:
        secrets["ca.pem"] = cred.ca_cert.encode()
        env["RESTIC_CACERT"] = f"{SECRETS_DIR}/ca.pem"
    options = ""
    if cred.ssh_key:
        secrets["ssh-key"] = (cred.ssh_key.rstrip("\n") + "\n").encode()
        secrets["known_hosts"] = (cred.known_hosts.rstrip("\n") + "\n").encode()
        options = (f"-o sftp.args='-i {SECRETS_DIR}/ssh-key -o UserKnownHostsFile={SECRETS_DIR}/known_hosts "
                   "-o BatchMode=yes -o StrictHostKeyChecking=yes'")
    manifest_dir = MANIFEST.rsplit("/", 1)[0]
    script = (f"set -e; {pre}restic {options} restore {snap.id} --target / --include {STORAGE_ROOT} "
              f"--include {MANIFEST} --no-lock; cd {STORAGE_ROOT}; "
              f"if sha256sum -c {MANIFEST} >/tmp/sums 2>&1; then echo \"checked $(wc -l < {MANIFEST}) files\"; "
              f"else grep -v ': OK$' /tmp/sums | head -20; echo 'o3: files differ from the manifest' >&2; exit 1; fi")
    volumes = {f"{cfg.site.storage_path}/{FOLDERS[role]}": {"bind": inside, "mode": "rw"}
               for role, inside in STORAGE_PATHS.items()}
    import docker

    try:
        client.images.get(cfg.images.restic)
    except docker.errors.ImageNotFound:
        client.images.pull(cfg.images.restic)
    c = client.containers.create(cfg.images.restic, entrypoint=["/bin/sh", "-c"], command=[script], environment=env,
                                 volumes=volumes, labels={"o3.recover": off.site_id}, tmpfs={manifest_dir: ""})
    try:
        c.put_archive("/", tar({f"{SECRETS_DIR.lstrip('/')}/{name}": v for name, v in secrets.items()}))
        c.start()
        code = c.wait()["StatusCode"]
        logs = c.logs().decode(errors="replace")
    finally:
        c.remove(force=True, v=True)
    logs = masked(logs, cred.secrets)
    if code != 0:
        raise Failed(f"restoring the storage snapshot {snap.short_id} on the new host failed: {' '.join(logs.split())[-800:]}")
    return " ".join(logs.split())[-300:]


def restore_dump(r: Restic, site: DeployedSite, snap: Snapshot, workdir: Path) -> dict[str, int]:
    """The nightly dump, from the repository through this machine into the new db, by the
    maintenance script's own check and restore; returns the rows the dump recorded."""
    raw = workdir / "o3-dump.sql"
    r.dump(snap, DUMP_FILE, raw)
    expected = row_counts(raw)
    name = DUMP_NAME.format(id=snap.short_id)
    gz = workdir / name
    with open(raw, "rb") as src, gzip.open(gz, "wb", compresslevel=1) as dst:
        for line in src:
            if not line.startswith(b"-- o3-row-counts "):  # the check wants `-- Dump completed` last
                dst.write(line)
    m = site.maintenance()
    m.put_archive(BACKUPS_MOUNT, tar({name: gz}, 0o644))
    for step in ("check", "restore"):
        got = site.run_maintenance(step, name)
        if got.code != 0:
            raise Failed(f"the dump {snap.short_id} ({name}) does not load: {got.err or got.out}")
    return expected


def count_rows(sql: Callable[[str], str]) -> dict[str, int]:
    """Each table's rows in the site's schemas; `sql(query)` runs a query in the db container or pod."""
    tables = [t for t in sql(tables_query(SCHEMAS)).split() if t]
    if not tables:
        return {}
    return parse_counts(sql(counts_query(tables)))


def docker_sql(site: DeployedSite) -> Callable[[str], str]:
    db = site.container(DB_CONTAINER)
    return lambda query: site.exec(db, mysql_command(shell_quoted(query))).out


def compare_rows(expected: dict[str, int], found: dict[str, int]) -> None:
    """Tables the empty site made and the dump lacks are left alone, as ops.restore does."""
    differ = compare_counts(expected, {t: n for t, n in found.items() if t in expected})
    if differ:
        raise Failed("the database differs from the dump's record: " + "; ".join(differ[:10]))
    print(f"recover: {len(expected)} tables, {sum(expected.values())} rows as the dump recorded")


def shell_quoted(sql: str) -> str:
    """`sql` safe inside the double quotes of mysql_command's `sh -c`."""
    for c in ("\\", '"', "`", "$"):
        sql = sql.replace(c, "\\" + c)
    return sql


def recover(args: argparse.Namespace) -> int:
    stages = Stages()
    cfg, off = load(args.stack, args.dir)
    assert off is not None
    if cfg.platform == "kubernetes":
        return recover_kubernetes(args, cfg, off, stages)
    with stages.stage("checks"), Restic(off.operator, off.site_id) as r:
        r.open()
        belongs(r, off)
        storage_snap, dump_snap = pick(r, args.snapshot)
        client = connect(cfg.docker_host, cfg.ssh_opts)
        try:
            client.ping()
        except Exception as e:  # noqa: BLE001
            raise OpsError(f"cannot reach the new host's Docker daemon at {cfg.docker_host or 'the local socket'} "
                           f"(docker:host): {e}") from None
        refuse_held(target_data(cfg, client), args.yes, f"the new host {cfg.docker_host or 'local'}", "onto an empty host")
        announce(off, storage_snap, dump_snap, f"onto {cfg.docker_host or 'the local Docker'}")
    try:
        up_empty(args, stages, ("docker", "command"))
        site = DeployedSite(cfg, client)
        with apps_stopped(site, APPS, "recover"):
            with stages.stage("restore storage"):
                said = restore_storage(cfg, off, client, storage_snap)
                print(f"recover: {said}")
            with stages.stage("restore database"), Restic(off.operator, off.site_id) as r, \
                    tempfile.TemporaryDirectory(prefix="o3-recover-") as work:
                expected = restore_dump(r, site, dump_snap, Path(work))
                compare_rows(expected, count_rows(docker_sql(site)))
        verify(args, stages)
    except (Failed, OpsError) as e:
        return failed(e, stages)
    return back(off, stages, storage_snap, dump_snap, cfg.docker_host or "the local Docker")


def refuse_held(held: list[str], yes: bool, target: str, instead: str) -> None:
    if held and not yes:
        raise OpsError(f"{target} already holds a site's data ({'; '.join(held[:5])}): recover {instead}, "
                       "or pass --yes to overwrite it")


def announce(off: OffsiteAccess, storage_snap: Snapshot, dump_snap: Snapshot, where: str) -> None:
    now = time.time()
    print(f"recover: site {off.site_id} from {off.operator.repository}: storage snapshot {storage_snap.short_id} "
          f"({storage_snap.age_hours(now):.1f} h old), dump {dump_snap.short_id} ({dump_snap.age_hours(now):.1f} h old) "
          f"{where}")


def verify(args: argparse.Namespace, stages: Stages) -> None:
    with stages.stage("verify"):
        out = subprocess.run([sys.executable, "-m", "ops.verify", "--stack", args.stack, "--dir", str(args.dir)],
                             capture_output=True, text=True)
        print(out.stdout.rstrip())
        if out.returncode != 0:
            raise Failed(f"the recovered site does not verify (above): {out.stderr.strip()[-400:]}")


def failed(e: Exception, stages: Stages) -> int:
    print(f"recover: FAILED: {e}", file=sys.stderr)
    print(f"recover: {stages.report()}", file=sys.stderr)
    return 1


def back(off: OffsiteAccess, stages: Stages, storage_snap: Snapshot, dump_snap: Snapshot, where: str) -> int:
    print(f"recover: site {off.site_id} is back on {where} (data as of "
          f"{dt.datetime.fromtimestamp(min(storage_snap.time, dump_snap.time), dt.timezone.utc):%Y-%m-%d %H:%M} UTC)")
    print(f"recover: {stages.report()}")
    return 0


def up_empty(args: argparse.Namespace, stages: Stages, packages: Sequence[str]) -> None:
    """`pulumi up` of the site, empty, once the lost host's (or namespace's) resources are out of the state."""
    with stages.stage("pulumi up (empty site)"):
        dropped = drop_lost_host(args.stack, args.dir, packages)
        if dropped:
            print(f"recover: {dropped} resources of the lost {'namespace' if 'kubernetes' in packages else 'host'} "
                  "dropped from the state")
        up = ["up", "--yes", "--skip-preview", "--stack", args.stack]
        if (args.dir / "policy" / "venv").is_dir():
            up += ["--policy-pack", str(args.dir / "policy")]
        pulumi(args.dir, *up)


# --- Kubernetes: the namespace (or the cluster) is gone ---------------------------------------------

def kube_target_data(site: Any) -> list[str]:
    """What in the target namespace already holds a site's data: its volume claims."""
    return [f"volume claim {c.metadata.name} in {site.where}"
            for c in site.core.list_namespaced_persistent_volume_claim(site.namespace).items]


def restore_job(storage_snap: Snapshot, dump_snap: Snapshot, name: str) -> Callable[[Any], None]:
    """The o3-offsite CronJob's pod (its image, Secret, repository settings and NetworkPolicy),
    restic's container alone, the data folders writable: offsite-backup.sh restore."""
    def edit(spec: Any) -> None:
        pod = spec.template.spec
        restic = next(c for c in pod.containers if c.name == "restic")
        restic.command = ["/bin/sh", f"{KUBE_SCRIPTS}/offsite-backup.sh", "restore", storage_snap.id, dump_snap.id, name]
        for m in restic.volume_mounts:
            if m.mount_path in STORAGE_PATHS.values():
                m.read_only = False
        # restic restores each file's owner, mode and times as they were (all within Pod Security baseline)
        restic.security_context.capabilities.add = ["CHOWN", "DAC_OVERRIDE", "FOWNER"]
        pod.containers = [restic]

    return edit


def kube_sql(site: Any) -> Callable[[str], str]:
    def sql(query: str) -> str:
        pod = site.db_pod()
        if pod is None:
            raise Failed(f"no ready db pod in {site.where}")
        return site.exec(pod, mysql_command(shell_quoted(query)))

    return sql


def recover_kubernetes(args: argparse.Namespace, cfg: Any, off: OffsiteAccess, stages: Stages) -> int:
    from ._cluster import DeployedKubeSite, cluster_access, scaled_to_zero

    with stages.stage("checks"), Restic(off.operator, off.site_id) as r:
        r.open()
        belongs(r, off)
        storage_snap, dump_snap = pick(r, args.snapshot)
        site = DeployedKubeSite(cfg, cluster_access(args.stack, args.dir))
        refuse_held(kube_target_data(site), args.yes, "the target", "into an empty namespace")
        announce(off, storage_snap, dump_snap, f"into {site.where} ({site.version})")
    try:
        up_empty(args, stages, ("kubernetes",))
        name = DUMP_NAME.format(id=dump_snap.short_id)
        with ExitStack() as apps:  # scaled back whatever happens; timed as a stage when all went well
            with stages.stage("scale the apps to 0"):
                apps.enter_context(scaled_to_zero(site, APPS, "recover"))
            with stages.stage("restore storage"):
                got = site.run_job(OFFSITE_CONTAINER, "o3-recover", restore_job(storage_snap, dump_snap, name), 6 * 3600)
                known = [*off.operator.secrets, *(off.site.secrets if off.site else [])]
                got = Exec(got.code, masked(got.out, known), masked(got.err, known))
                if got.code != 0:
                    raise Failed(f"restoring snapshot {storage_snap.short_id} in {site.where} failed: "
                                 f"{' '.join((got.err or got.out).split())[-800:]}")
                print("recover: " + "; ".join(line.split(" ", 1)[-1] for line in got.out.splitlines()[-2:]))
            with stages.stage("restore database"), Restic(off.operator, off.site_id) as r, \
                    tempfile.TemporaryDirectory(prefix="o3-recover-") as work:
                raw = Path(work) / "o3-dump.sql"
                r.dump(dump_snap, DUMP_FILE, raw)
                expected = row_counts(raw)
                for step in ("check", "restore"):
                    loaded = site.run_maintenance(step, name)
                    if loaded.code != 0:
                        raise Failed(f"the dump {dump_snap.short_id} ({name}) does not load: {loaded.err or loaded.out}")
                compare_rows(expected, count_rows(kube_sql(site)))
            with stages.stage("scale the apps back"):
                apps.close()
        verify(args, stages)
    except (Failed, OpsError) as e:
        return failed(e, stages)
    return back(off, stages, storage_snap, dump_snap, site.where)


def _main(argv: Optional[Sequence[str]]) -> int:
    p = argparse.ArgumentParser(prog="python -m ops.recover", description=__doc__.split("\n\n")[0])
    p.add_argument("--stack", required=True, help="site stack (Pulumi.<stack>.yaml), pointing at the new host")
    p.add_argument("--snapshot", help="a storage or dump snapshot's id (default: the newest; ops.offsite snapshots lists them)")
    p.add_argument("--yes", action="store_true", help="recover even onto a host that holds a site's data")
    add_dir_argument(p)
    return recover(p.parse_args(argv))


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run(_main, "recover", argv)


if __name__ == "__main__":
    sys.exit(main())
