"""Verify a deployed site: is it a working PACS, not only a green `pulumi up`?

    python -m ops.verify --stack S [--json] [--dir D] [--ca-file CA.pem]

On Kubernetes (o3:platform kubernetes), through the cluster's API: every rollout is complete on
the declared images, exactly one singleton runs, both schemas exist, pacs and view answer through
their Services, the data volume is bound with the vendor's minimum, and the last nightly dump is
recent.

Over the stack's Docker host (local or ssh://) and from this machine: every container runs,
each on the image the stack declares (compared by image id, not by tag); db is healthy; both
schemas exist; the apps answer on their published ports (HTTPS through the front door when
o3:tls is on); the storage path has the vendor's minimum free; the newest nightly dump is
recent and the last nightly run succeeded; the certificate is not about to expire; the
versions deployed are the versions declared. Exit 1 when any check fails (CI stops the
rollout there), 2 on bad input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from sitespec import sizing, tls
from sitespec.config import SiteConfig
from sitespec.guide import (
    DB_CONTAINER,
    DB_PASSWORD_FILE,
    MAINTENANCE_CONTAINER,
    PACS_CONTAINER,
    PROXY_CONTAINER,
    SCHEMAS,
    SINGLETON_CONTAINER,
    VIEW_CONTAINER,
)
from sitespec.imageref import version_of
from sitespec.stackfile import load_stack_config

from ._cli import add_dir_argument, readable_file, run
from ._cluster import ClusterAccess, DeployedKubeSite, cluster_access
from ._site import DeployedSite, open_site
from ._checks import FAIL, PASS, WARN, Check, guarded, report
from ._host import HostProbe, free_gb

NIGHTLY_MAX_AGE_HOURS = 26  # a daily dump, with slack for a slow night


def declared_images(cfg: SiteConfig) -> dict[str, str]:
    """container -> the image reference the stack declares for it."""
    out = {DB_CONTAINER: cfg.images.db, PACS_CONTAINER: cfg.images.pacs, SINGLETON_CONTAINER: cfg.images.pacs,
           VIEW_CONTAINER: cfg.images.view, MAINTENANCE_CONTAINER: cfg.images.db}
    if cfg.tls.enabled:
        out[PROXY_CONTAINER] = cfg.images.proxy
    return out


def check_containers(site: DeployedSite, declared: dict[str, str], container_of: Callable[[str], Any]) -> list[Check]:
    import docker

    checks = []
    for name, ref in declared.items():
        c = container_of(name)
        if c is None:
            checks.append(Check(name, FAIL, "missing", "run `pulumi up` for this stack"))
            continue
        if c.status != "running":
            checks.append(Check(name, FAIL, f"{c.status}, not running",
                                f"`docker logs {name}` on the host; `docker start {name}` or `pulumi up`"))
            continue
        try:
            want = site.client.images.get(ref)
        except docker.errors.ImageNotFound:
            checks.append(Check(name, FAIL, f"runs {c.image.id[:19]}, but the declared {ref} is not on the host",
                                "run `pulumi up`: the declared image has not been deployed"))
            continue
        if c.image.id != want.id:
            running = c.labels.get("o3.image", "another image")
            checks.append(Check(name, FAIL, f"runs {running} ({c.image.id[:19]}), not the declared {ref} ({want.id[:19]})",
                                "run `pulumi up` to replace it with the declared image"))
            continue
        checks.append(Check(name, PASS, f"running {ref} ({want.id[:19]})"))
    return checks


def check_db(site: DeployedSite) -> list[Check]:
    db = site.container(DB_CONTAINER)
    if db is None or db.status != "running":
        return [Check("db health", FAIL, "db is not running"), Check("schemas", FAIL, "db is not running")]
    health = (db.attrs.get("State", {}).get("Health") or {}).get("Status", "none")
    out = [Check("db health", PASS if health == "healthy" else FAIL, health,
                 "" if health == "healthy" else "`docker logs db` on the host")]
    # The password never leaves the container: its own password file feeds MYSQL_PWD.
    r = site.exec(db, ["sh", "-c", f'MYSQL_PWD="$(cat {DB_PASSWORD_FILE})" mysql -uroot -N -e "SHOW DATABASES"'])
    found = set(r.out.split())
    missing = [s for s in SCHEMAS if s not in found]
    if r.code != 0:
        out.append(Check("schemas", FAIL, f"cannot query MySQL: {r.err[:200]}"))
    elif missing:
        out.append(Check("schemas", FAIL, f"missing: {', '.join(missing)}",
                         "run `pulumi up` (the schema step creates them), or restore a dump (python -m ops.restore)"))
    else:
        out.append(Check("schemas", PASS, ", ".join(SCHEMAS)))
    return out


def _http(url: str, context: Optional[ssl.SSLContext] = None, timeout: float = 10) -> tuple[Optional[int], str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as r:
            return r.status, dict(r.headers).get("Strict-Transport-Security", "")
    except urllib.error.HTTPError as e:
        return e.code, ""
    except (OSError, ssl.SSLError) as e:
        return None, str(getattr(e, "reason", e))


def _answers(name: str, url: str, context: Optional[ssl.SSLContext] = None, attempts: int = 5) -> Check:
    for i in range(attempts):  # an app that was just (re)started needs a moment
        status, detail = _http(url, context)
        if status is not None and status < 500:
            return Check(name, PASS, f"{url} answers {status}" + (" with HSTS" if detail else ""))
        if i < attempts - 1:
            time.sleep(2)
    what = f"answers {status}" if status is not None else f"does not answer ({detail})"
    return Check(name, FAIL, f"{url} {what}",
                 "check the app's log (`docker logs` on the host), o3:ports and the host's firewall")


def check_ports(cfg: SiteConfig, ca_file: Optional[Path]) -> list[Check]:
    host = cfg.public_host_name
    checks = []
    if cfg.tls.enabled:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        checks.append(_answers("view https", f"https://{host}:{cfg.tls.view_port}/", context))
        checks.append(_answers("pacs https", f"https://{host}:{cfg.tls.pacs_port}/", context))
    else:
        checks.append(_answers("view http", f"http://{host}:{cfg.ports.view_http}/"))
        checks.append(_answers("pacs http", f"http://{host}:{cfg.ports.pacs_http}/"))
    try:
        with socket.create_connection((host, cfg.ports.pacs_service), timeout=10):
            checks.append(Check("pacs 4568", PASS, f"{host}:{cfg.ports.pacs_service} accepts connections"))
    except OSError as e:
        checks.append(Check("pacs 4568", FAIL, f"{host}:{cfg.ports.pacs_service}: {e}",
                            "check the pacs container and o3:ports.pacsService"))
    return checks


def check_storage(site: DeployedSite, cfg: SiteConfig) -> Check:
    req, _ = sizing.for_site(cfg)
    gb, where = free_gb(HostProbe(site.client, cfg.images.db), cfg.site.storage_path)
    need = req.storage_gb.value
    msg = f"{gb:.1f} GB free at {where}, {need:g} GB required"
    return Check("storage", PASS if gb >= need else FAIL, msg, "" if gb >= need else "free space or grow the volume")


def check_backups(site: DeployedSite, now: Optional[float] = None) -> Check:
    now = now or time.time()
    m = site.container(MAINTENANCE_CONTAINER)
    if m is None or m.status != "running":
        return Check("backup", FAIL, f"{MAINTENANCE_CONTAINER} is not running: no nightly dumps",
                     "run `pulumi up` (it creates the container)")
    status = json.loads(site.run_maintenance("status").out or "{}")
    newest = site.run_maintenance("newest", "nightly").out.split()
    schedule = site.cfg.backup.schedule
    if status.get("ok") is False:
        return Check("backup", FAIL, f"the last nightly run ({status.get('at')}) failed: {status.get('message')}",
                     f"`docker logs {MAINTENANCE_CONTAINER}` on the host; `python -m ops.backup` to retry now")
    if not newest:
        started = dt.datetime.fromisoformat(m.attrs["State"]["StartedAt"][:19]).replace(tzinfo=dt.timezone.utc)
        hours = (now - started.timestamp()) / 3600
        level = FAIL if hours > NIGHTLY_MAX_AGE_HOURS else WARN
        return Check("backup", level, f"no nightly dump yet (first one at {schedule} site time)",
                     "wait for the schedule, or `python -m ops.backup` now")
    name, epoch = newest[0], float(newest[1])
    hours = (now - epoch) / 3600
    msg = f"newest nightly dump {name}, {hours:.1f} h old"
    if hours > NIGHTLY_MAX_AGE_HOURS:
        return Check("backup", FAIL, msg + f" (more than {NIGHTLY_MAX_AGE_HOURS} h)",
                     f"`docker logs {MAINTENANCE_CONTAINER}` on the host; `python -m ops.backup` to take one now")
    return Check("backup", PASS, msg)


def check_certificate(cfg: SiteConfig) -> Optional[Check]:
    if not cfg.tls.enabled or not cfg.tls.certificate:
        return None
    cert = tls.parse_certificate(cfg.tls.certificate)
    days = cert.days_left()
    msg = f"{cert.subject}, expires {cert.not_after:%Y-%m-%d} ({days:.0f} days)"
    if days <= 0:
        return Check("certificate", FAIL, msg, "renew it (README: Renew the certificate)")
    if days < tls.EXPIRY_WARNING_DAYS:
        return Check("certificate", WARN, msg, "renew it soon (README: Renew the certificate)")
    return Check("certificate", PASS, msg)


def check_versions(declared: dict[str, str], container_of: Callable[[str], Any]) -> Check:
    deployed, differ = {}, []
    for name, ref in declared.items():
        c = container_of(name)
        running = c.labels.get("o3.image") if c is not None else None
        deployed[name] = version_of(running) if running else "none"
        if running != ref:
            differ.append(f"{name} {deployed[name]} (declared {version_of(ref)})")
    if differ:
        return Check("versions", FAIL, "deployed differs from declared: " + "; ".join(differ),
                     "run `pulumi up` for this stack")
    shown = {n: deployed[n] for n in (DB_CONTAINER, PACS_CONTAINER, VIEW_CONTAINER)}
    return Check("versions", PASS, ", ".join(f"{k} {v}" for k, v in shown.items()) + " as declared")


def run_checks(cfg: SiteConfig, ca_file: Optional[Path] = None) -> list[Check]:
    site = open_site(cfg)
    declared = declared_images(cfg)
    seen: dict[str, Any] = {}

    def container_of(name: str) -> Any:  # each container read once, for both checks that need it
        if name not in seen:
            seen[name] = site.container(name)
        return seen[name]

    checks: list[Check] = []
    guarded(checks, "containers", lambda: check_containers(site, declared, container_of))
    guarded(checks, "db", lambda: check_db(site))
    guarded(checks, "ports", lambda: check_ports(cfg, ca_file))
    guarded(checks, "storage", lambda: check_storage(site, cfg))
    guarded(checks, "backup", lambda: check_backups(site))
    guarded(checks, "certificate", lambda: check_certificate(cfg))
    guarded(checks, "versions", lambda: check_versions(declared, container_of))
    return checks


# --- a Kubernetes site --------------------------------------------------------------------------

KUBE_WORKLOADS = (("StatefulSet", DB_CONTAINER), ("Deployment", PACS_CONTAINER), ("Deployment", SINGLETON_CONTAINER),
                  ("Deployment", VIEW_CONTAINER))


def check_rollouts(site: DeployedKubeSite, declared: dict[str, str]) -> list[Check]:
    out = []
    for kind, name in KUBE_WORKLOADS:
        if name == DB_CONTAINER and site.cfg.kubernetes and site.cfg.kubernetes.database.external_host:
            continue
        w = site.workload(kind, name)
        if w is None:
            out.append(Check(name, FAIL, f"no {kind} {name} in {site.where}", "run `pulumi up` for this stack"))
            continue
        want = w.spec.replicas or 0
        st = w.status
        ready, updated = st.ready_replicas or 0, st.updated_replicas or 0
        image = w.spec.template.spec.containers[0].image
        done = (st.observed_generation or 0) >= w.metadata.generation and ready == want and updated == want
        if image != declared[name]:
            out.append(Check(name, FAIL, f"runs {image}, the stack declares {declared[name]}", "run `pulumi up`"))
        elif not done:
            out.append(Check(name, FAIL, f"rollout not complete: {ready}/{want} ready, {updated} updated",
                             f"`kubectl -n {site.namespace} describe {kind.lower()}/{name}`"))
        else:
            out.append(Check(name, PASS, f"{ready}/{want} ready on {version_of(image)}"))
    singles = site.pods(SINGLETON_CONTAINER)
    if len(singles) != 1:
        out.append(Check("singleton", FAIL, f"{len(singles)} {SINGLETON_CONTAINER} pods run, exactly one must",
                         "the periodic services must run once: `kubectl get pods` and `pulumi up`"))
    else:
        out.append(Check("singleton", PASS, f"one {SINGLETON_CONTAINER} pod ({singles[0].spec.node_name})"))
    return out


def check_kube_db(site: DeployedKubeSite) -> list[Check]:
    if site.cfg.kubernetes and site.cfg.kubernetes.database.external_host:
        return [Check("schemas", WARN, f"MySQL is external ({site.cfg.kubernetes.database.external_host}): not "
                      "read from here; the schema Job checks it at each db change")]
    pods = [p for p in site.pods(DB_CONTAINER) if p.status.phase == "Running"]
    if not pods:
        return [Check("schemas", FAIL, "no running db pod", f"`kubectl -n {site.namespace} describe statefulset/db`")]
    out = site.exec(pods[0].metadata.name, ["sh", "-c", f'MYSQL_PWD=$(cat {DB_PASSWORD_FILE}) mysql -uroot -N -e "SHOW DATABASES"'])
    missing = [s for s in SCHEMAS if s not in out.split()]
    if missing:
        return [Check("schemas", FAIL, f"missing: {', '.join(missing)}", "run `pulumi up` (the schema Job creates them)")]
    return [Check("schemas", PASS, ", ".join(SCHEMAS))]


def check_kube_services(site: DeployedKubeSite) -> list[Check]:
    from sitespec.guide import PACS_HTTP_PORT, PACS_SERVICE_PORT, VIEW_HTTP_PORT

    out = []
    for name, service, port in (("pacs http", PACS_CONTAINER, PACS_HTTP_PORT), ("view http", VIEW_CONTAINER, VIEW_HTTP_PORT)):
        try:
            site.get(service, port)
            out.append(Check(name, PASS, f"Service {service}:{port} answers"))
        except Exception as e:  # noqa: BLE001 - any failure to answer is the finding
            out.append(Check(name, FAIL, f"Service {service}:{port} does not answer ({getattr(e, 'reason', e)})",
                             f"`kubectl -n {site.namespace} logs deploy/{service}`"))
    ep = site.core.read_namespaced_endpoints(PACS_CONTAINER, site.namespace)
    ready = sum(len(s.addresses or []) for s in ep.subsets or [] if any(p.port == PACS_SERVICE_PORT for p in s.ports or []))
    out.append(Check("pacs 4568", PASS if ready else FAIL, f"{ready} ready endpoint(s) behind {PACS_CONTAINER}:{PACS_SERVICE_PORT}",
                     "" if ready else f"`kubectl -n {site.namespace} get pods -l app.kubernetes.io/name=pacs`"))
    return out


def check_kube_storage(site: DeployedKubeSite) -> Check:
    from sitespec.guide import KUBE_DATA_VOLUME

    claim = site.core.read_namespaced_persistent_volume_claim(KUBE_DATA_VOLUME, site.namespace)
    capacity = (claim.status.capacity or {}).get("storage", "0")
    gb = _quantity_gb(capacity)
    need = sizing.MIN_STORAGE_GB
    if claim.status.phase != "Bound":
        return Check("storage", FAIL, f"{KUBE_DATA_VOLUME} is {claim.status.phase}", "check its storage class")
    return Check("storage", PASS if gb >= need else FAIL, f"{KUBE_DATA_VOLUME}: {capacity} bound, {need:g} GB required",
                 "" if gb >= need else "raise o3:kubernetes.storageGb")


def _quantity_gb(q: str) -> float:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    for u, f in units.items():
        if q.endswith(u):
            return float(q[:-2]) * f / 2**30
    return float(q or 0) / 2**30


def check_kube_backup(site: DeployedKubeSite) -> Check:
    from kubernetes.client.exceptions import ApiException

    try:
        cron = site.batch.read_namespaced_cron_job(MAINTENANCE_CONTAINER, site.namespace)
    except ApiException as e:
        if e.status == 404:
            return Check("backup", FAIL, f"no CronJob {MAINTENANCE_CONTAINER}", "run `pulumi up`")
        raise
    now = dt.datetime.now(dt.timezone.utc)
    last_ok = cron.status.last_successful_time if cron.status else None
    if last_ok is None:
        age = (now - cron.metadata.creation_timestamp).total_seconds() / 3600
        if age <= NIGHTLY_MAX_AGE_HOURS:
            return Check("backup", WARN, f"no nightly dump yet (the CronJob is {age:.1f} h old)")
        return Check("backup", FAIL, f"no successful nightly dump in the {age:.0f} h since the CronJob was made",
                     f"`kubectl -n {site.namespace} get jobs`")
    hours = (now - last_ok).total_seconds() / 3600
    if hours > NIGHTLY_MAX_AGE_HOURS:
        return Check("backup", FAIL, f"the last successful nightly dump is {hours:.0f} h old",
                     f"`kubectl -n {site.namespace} get jobs`")
    return Check("backup", PASS, f"last nightly dump {hours:.1f} h ago")


def run_kube_checks(cfg: SiteConfig, access: ClusterAccess) -> list[Check]:
    site = DeployedKubeSite(cfg, access)
    declared = {DB_CONTAINER: cfg.images.db, PACS_CONTAINER: cfg.images.pacs, SINGLETON_CONTAINER: cfg.images.pacs,
                VIEW_CONTAINER: cfg.images.view}
    checks: list[Check] = []
    guarded(checks, "rollouts", lambda: check_rollouts(site, declared))
    guarded(checks, "schemas", lambda: check_kube_db(site))
    guarded(checks, "services", lambda: check_kube_services(site))
    guarded(checks, "storage", lambda: check_kube_storage(site))
    guarded(checks, "backup", lambda: check_kube_backup(site))
    return checks


def _main(argv: Optional[Sequence[str]]) -> int:
    p = argparse.ArgumentParser(prog="python -m ops.verify", description=__doc__.split("\n\n")[0])
    p.add_argument("--stack", required=True, help="site stack (Pulumi.<stack>.yaml)")
    add_dir_argument(p)
    p.add_argument("--ca-file", type=readable_file,
                   help="CA certificate(s) to trust for the site's HTTPS (default: the system's)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    args = p.parse_args(argv)
    cfg = load_stack_config(args.stack, args.dir)
    if cfg.platform == "kubernetes":
        checks = run_kube_checks(cfg, cluster_access(args.stack, args.dir))
    else:
        checks = run_checks(cfg, args.ca_file)
    return report(checks, cfg, args.stack, "verify", "the site works", "FAIL", args.json)


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run(_main, "verify", argv)


if __name__ == "__main__":
    sys.exit(main())
