"""A site's Docker host (local or ssh://), as preflight and verify see it.

Preflight measures the host (the daemon, cores, memory, free space, ulimits, ports, subnet, the
registry login); measurements inside the host run in short-lived helper containers (`--rm`,
read-only host mounts), so they work the same on a remote host. For verify, `Docker` reads the
site's containers and asks the apps from this machine, and adds the Docker-only checks (db
health, 4568, free space, the certificate, the versions in the containers' labels).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Optional

from sitespec import offsite, sizing, tls
from sitespec.config import SiteConfig
from sitespec.guide import (
    BACKUPS_MOUNT,
    DB_CONTAINER,
    MAINTENANCE_CONTAINER,
    PACS_CONTAINER,
    PERIODIC_SERVICES_ENV,
    PROXY_CONTAINER,
    SINGLETON_CONTAINER,
    VIEW_CONTAINER,
)
from sitespec.imageref import version_of

from ._checks import FAIL, PASS, WARN, Check, guarded
from ._cli import OpsError
from ._host import HostProbe, free_gb
from ._platform import Answer, App, Nightly, Platform, Reply, Step, Unavailable, mysql_command
from ._site import DeployedSite, Exec, connect, open_site

MEMORY_TOLERANCE = 0.95  # the kernel keeps some RAM: a 12 GB host reports ~11.6 GiB


# --- preflight: each check takes what it measures against and returns a Check ----------------

def check_daemon(client: Any) -> Check:
    v = client.version()
    return Check("daemon", PASS, f"Docker {v.get('Version')} (API {v.get('ApiVersion')}), {v.get('Os')}/{v.get('Arch')}")


def check_cores(info: dict, req: sizing.Requirements, declared: float) -> Check:
    n = float(info.get("NCPU", 0))
    note = f"; o3:host.cpuCores declares {declared:g}" if declared != n else ""
    if n < req.cores.value:
        return Check("cores", FAIL, f"{n:g} cores, {req.cores.value:g} required ({req.cores.reason}){note}",
                     "use a larger host (or lower o3:site.concurrentUsers); keep o3:host.cpuCores truthful")
    return Check("cores", PASS, f"{n:g} cores, {req.cores.value:g} required{note}")


def check_memory(info: dict, req: sizing.Requirements, declared: float) -> Check:
    gb = float(info.get("MemTotal", 0)) / 1024**3
    need = req.memory_gb.value
    msg = f"{gb:.1f} GB, {need:g} GB required ({req.memory_gb.reason})"
    if gb < need * MEMORY_TOLERANCE:
        return Check("memory", FAIL, msg, "add RAM (or lower o3:site.concurrentUsers); keep o3:host.memoryGb truthful")
    if gb < need:
        return Check("memory", WARN, msg + f" (within {int((1 - MEMORY_TOLERANCE) * 100)}% kernel reserve)")
    return Check("memory", PASS, msg)


def check_storage(host: HostProbe, storage_path: str, need_gb: float) -> Check:
    gb, where = free_gb(host, storage_path)
    msg = f"{gb:.1f} GB free at {where} (for {storage_path}), {need_gb:g} GB required"
    if gb < need_gb:
        return Check("storage", FAIL, msg, f"give {storage_path} a larger volume or move o3:site.storagePath")
    return Check("storage", PASS, msg)


def nofile_limit(host: HostProbe) -> int:
    return int(host.run("ulimit -Hn", network_mode="none").strip())


def check_ulimits(host: HostProbe, cfg: SiteConfig) -> Check:
    import docker
    from docker.types import Ulimit

    u = cfg.database.ulimits
    cap = nofile_limit(host)
    wanted = f"nofile {u.nofile_soft}/{u.nofile_hard}, nproc {u.nproc}"
    try:
        host.run("true", network_mode="none", ulimits=[
            Ulimit(name="nofile", soft=u.nofile_soft, hard=u.nofile_hard),
            Ulimit(name="nproc", soft=u.nproc, hard=u.nproc),
        ])
    except docker.errors.APIError as e:
        if "rlimit" not in str(e):
            raise
        return Check("ulimits", FAIL,
                     f"the daemon refuses {wanted}: it can grant containers at most nofile {cap}",
                     f"set o3:database.ulimits.nofileHard (and nofileSoft) to {cap} or less, "
                     "or raise the daemon's own limit (LimitNOFILE in docker.service) and restart Docker")
    return Check("ulimits", PASS, f"{wanted} granted (daemon's nofile limit {cap})")


def site_ports(cfg: SiteConfig) -> dict[int, str]:
    ports = {cfg.ports.pacs_http: PACS_CONTAINER, cfg.ports.pacs_service: PACS_CONTAINER, cfg.ports.view_http: VIEW_CONTAINER}
    if cfg.database.publish != "off":
        ports[cfg.database.port] = DB_CONTAINER
    return ports


def _listening(host: HostProbe) -> set[int]:
    out = host.run("cat /proc/net/tcp /proc/net/tcp6 2>/dev/null", network_mode="host")
    ports = set()
    for line in out.splitlines()[1:]:
        f = line.split()
        if len(f) > 3 and f[3] == "0A":  # TCP_LISTEN
            ports.add(int(f[1].rsplit(":", 1)[1], 16))
    return ports


def check_ports(host: HostProbe, cfg: SiteConfig) -> Check:
    wanted = site_ports(cfg)
    held: dict[int, str] = {}
    # One listing call: containers.list() inspects each container afterwards and fails on one
    # that goes meanwhile (a short-lived helper on a busy host).
    for c in host.client.api.containers():
        for b in c.get("Ports") or []:
            if b.get("PublicPort"):
                held[int(b["PublicPort"])] = c["Names"][0].lstrip("/")
    listening = _listening(host)
    problems, ours = [], []
    for port, owner in sorted(wanted.items()):
        if port in held:
            (ours if held[port] == owner else problems).append(f"{port} ({'the site' if held[port] == owner else 'container'} '{held[port]}')")
        elif port in listening:
            problems.append(f"{port} (a process on the host)")
    listed = ", ".join(str(p) for p in sorted(wanted))
    if problems:
        return Check("ports", FAIL, f"in use: {', '.join(problems)}",
                     "stop what holds them, or choose other host ports in o3:ports / o3:database.port")
    return Check("ports", PASS, f"{listed} free" + (f"; held by the site itself: {', '.join(ours)}" if ours else ""))


def _routes(host: HostProbe) -> list[tuple[ipaddress.IPv4Network, str]]:
    out = host.run("cat /proc/net/route", network_mode="host")
    routes = []
    for line in out.splitlines()[1:]:
        f = line.split()
        dest, mask = (ipaddress.IPv4Address(int(x, 16).to_bytes(4, "little")) for x in (f[1], f[7]))
        net = ipaddress.IPv4Network(f"{dest}/{mask}", strict=False)
        if net.prefixlen > 0:  # the default route overlaps everything by design
            routes.append((net, f[0]))
    return routes


def check_subnet(host: HostProbe, cfg: SiteConfig) -> Check:
    want = ipaddress.IPv4Network(cfg.network.subnet)
    clashes = []
    for n in host.client.networks.list():
        if n.name == cfg.network.name:  # the site's own network, from an earlier `up`
            continue
        for pool in (n.attrs.get("IPAM") or {}).get("Config") or []:
            subnet = pool.get("Subnet")
            if subnet and ":" not in subnet and ipaddress.IPv4Network(subnet).overlaps(want):
                clashes.append(f"Docker network '{n.name}' {subnet}")
    for net, iface in _routes(host):
        # Docker's own bridges are covered by the network list above.
        if not iface.startswith(("br-", "docker")) and net.overlaps(want):
            clashes.append(f"route {net} on {iface}")
    if clashes:
        return Check("subnet", FAIL, f"{want} overlaps {', '.join(clashes)}",
                     "choose a free private range for o3:network.subnet (e.g. 172.31.250.0/24)")
    return Check("subnet", PASS, f"{want} overlaps no Docker network or host route")


def check_registry(client: Any, cfg: SiteConfig, key: Optional[str], key_is_set: bool) -> Check:
    import docker

    server = cfg.registry.server
    if key is None:
        if key_is_set:
            return Check("registry", WARN, f"o3:registryKey is set but encrypted: login to {server} not tried",
                         "pass the key file with --registry-key-file to test the login")
        on_registry = [r for r in (cfg.images.pacs, cfg.images.view) if r.startswith(server + "/")]
        if on_registry:
            return Check("registry", WARN, f"no o3:registryKey, but images come from {server}",
                         "cat key.json | pulumi config set --secret o3:registryKey")
        return Check("registry", PASS, "no registry login configured (images are public or local)")
    try:
        client.login(username=cfg.registry.username, password=key, registry=server, reauth=True)
    except docker.errors.APIError as e:
        reason = str(getattr(e, "explanation", "") or e).replace(key, "<key>")
        return Check("registry", FAIL, f"login to {server} as {cfg.registry.username} failed: {reason}",
                     "check the key file (a service-account JSON key) and o3:registry.server")
    return Check("registry", PASS, f"logged in to {server} as {cfg.registry.username}")


def preflight_checks(cfg: SiteConfig, helper_image: str, key: Optional[str], key_is_set: bool) -> list[Check]:
    checks: list[Check] = []

    def measure(name: str, fn: Callable[[], Check], needs_helper: bool = False) -> None:
        if needs_helper and not host.helper_ready():
            checks.append(Check(name, WARN, f"not measured: helper image {helper_image} is not available",
                                "pull o3:images.db on the host, or pass --helper-image"))
            return
        guarded(checks, name, fn)

    try:
        client = connect(cfg.docker_host, cfg.ssh_opts)
        checks.append(check_daemon(client))
        info = client.info()
    except OpsError as e:  # ssh's problems, already explained
        return [Check("daemon", FAIL, str(e))]
    except Exception as e:  # noqa: BLE001
        return [Check("daemon", FAIL, f"cannot reach the Docker daemon at {cfg.docker_host or 'DOCKER_HOST/local socket'}: {e}",
                      "start Docker on the host, or fix docker:host (ssh://user@host needs an SSH key and the docker CLI there)")]
    host = HostProbe(client, helper_image)
    req, _ = sizing.for_site(cfg)
    measure("cores", lambda: check_cores(info, req, cfg.host.cpu_cores))
    measure("memory", lambda: check_memory(info, req, cfg.host.memory_gb))
    measure("storage", lambda: check_storage(host, cfg.site.storage_path, req.storage_gb.value), needs_helper=True)
    measure("ulimits", lambda: check_ulimits(host, cfg), needs_helper=True)
    measure("ports", lambda: check_ports(host, cfg), needs_helper=True)
    measure("subnet", lambda: check_subnet(host, cfg), needs_helper=True)
    measure("registry", lambda: check_registry(client, cfg, key, key_is_set))
    return checks


# --- verify: the site's containers, and its apps asked from this machine ----------------------

def _http(url: str, context: Optional[ssl.SSLContext] = None, timeout: float = 10) -> Reply:
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as r:
            return Reply(True, r.status, hsts=bool(dict(r.headers).get("Strict-Transport-Security")))
    except urllib.error.HTTPError as e:
        return Reply(True, e.code)
    except (OSError, ssl.SSLError) as e:
        return Reply(False, reason=str(getattr(e, "reason", e)))


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


class Docker(Platform):
    """A site on a Docker host: preflight measures the host; verify reads the site's containers."""

    unit = "container"
    listing = "`docker ps` on the host"

    def __init__(self, cfg: SiteConfig, *, helper_image: Optional[str] = None, registry_key: Optional[str] = None,
                 key_is_set: bool = False, ca_file: Optional[Path] = None):
        super().__init__(cfg)
        self.helper_image = helper_image or cfg.images.db
        self.registry_key, self.key_is_set, self.ca_file = registry_key, key_is_set, ca_file
        self._site: Optional[DeployedSite] = None
        self._containers: dict[str, Any] = {}

    def preflight(self) -> list[Check]:
        return preflight_checks(self.cfg, self.helper_image, self.registry_key, self.key_is_set)

    def connect(self) -> None:
        self._site = open_site(self.cfg)

    @property
    def site(self) -> DeployedSite:
        assert self._site is not None, "connect() first"
        return self._site

    def container(self, name: str) -> Any:
        """A container of the site, read once for every check that needs it; None when missing."""
        if name not in self._containers:
            self._containers[name] = self.site.container(name)
        return self._containers[name]

    def declared(self) -> dict[str, str]:
        cfg = self.cfg
        out = {DB_CONTAINER: cfg.images.db, PACS_CONTAINER: cfg.images.pacs, SINGLETON_CONTAINER: cfg.images.pacs,
               VIEW_CONTAINER: cfg.images.view, MAINTENANCE_CONTAINER: cfg.images.db}
        if cfg.tls.enabled:
            out[PROXY_CONTAINER] = cfg.images.proxy
        return out

    def app(self, name: str, ref: str) -> App:
        import docker

        c = self.container(name)
        if c is None:
            raise Unavailable("missing", "run `pulumi up` for this stack")
        if c.status != "running":
            raise Unavailable(f"{c.status}, not running",
                              f"`docker logs {name}` on the host; `docker start {name}` or `pulumi up`")
        try:
            want = self.site.client.images.get(ref).id
        except docker.errors.ImageNotFound:
            raise Unavailable(f"runs {c.image.id[:19]}, but the declared {ref} is not on the host",
                              "run `pulumi up`: the declared image has not been deployed") from None
        running = c.labels.get("o3.image", "another image")
        return App(image=c.image.id, wanted=want, shown=f"{running} ({c.image.id[:19]})",
                   wanted_shown=f"{ref} ({want[:19]})", up=f"running {ref} ({want[:19]})")

    def singletons(self) -> list[str]:
        mine = self.site.client.containers.list(filters={"label": f"o3.site={self.cfg.site.name}"}, ignore_removed=True)
        return [c.name for c in mine if f"{PERIODIC_SERVICES_ENV}=true" in (c.attrs.get("Config") or {}).get("Env") or []]

    def sql(self, query: str) -> Exec:
        db = self.container(DB_CONTAINER)
        if db is None or db.status != "running":
            raise Unavailable("db is not running")
        return self.site.exec(db, mysql_command(query))

    def answers(self) -> list[Answer]:
        cfg, host = self.cfg, self.cfg.public_host_name
        fix = "check the app's log (`docker logs` on the host), o3:ports and the host's firewall"
        if cfg.tls.enabled:
            context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
            urls = (("view https", f"https://{host}:{cfg.tls.view_port}/"), ("pacs https", f"https://{host}:{cfg.tls.pacs_port}/"))
        else:
            context = None
            urls = (("view http", f"http://{host}:{cfg.ports.view_http}/"), ("pacs http", f"http://{host}:{cfg.ports.pacs_http}/"))
        return [Answer(name, url, lambda url=url: _http(url, context), fix) for name, url in urls]

    def nightly(self) -> Nightly:
        m = self.container(MAINTENANCE_CONTAINER)
        if m is None or m.status != "running":
            raise Unavailable(f"{MAINTENANCE_CONTAINER} is not running: no nightly dumps",
                              "run `pulumi up` (it creates the container)")
        status = json.loads(self.site.run_maintenance("status").out or "{}")
        newest = self.site.run_maintenance("newest", "nightly").out.split()
        started = dt.datetime.fromisoformat(m.attrs["State"]["StartedAt"][:19]).replace(tzinfo=dt.timezone.utc)
        return Nightly(since=started.timestamp(), logs=f"`docker logs {MAINTENANCE_CONTAINER}` on the host",
                       newest=float(newest[1]) if newest else None, newest_name=newest[0] if newest else "",
                       failed=(status.get("at"), status.get("message")) if status.get("ok") is False else None)

    def offsite_status(self) -> Optional[dict]:
        m = self.container(MAINTENANCE_CONTAINER)
        if m is None or m.status != "running":
            return None
        got = self.site.exec(m, ["sh", "-c", f"cat {BACKUPS_MOUNT}/{offsite.STATUS_FILE} 2>/dev/null || echo '{{}}'"])
        try:
            return json.loads(got.out or "{}")
        except ValueError:
            return {"ok": False, "message": f"the status file {offsite.STATUS_FILE} is not JSON: {got.out[:100]}"}

    # --- the checks only a Docker host has ------------------------------------------------------

    def before_schemas(self) -> list[Step]:
        return [("db health", self.check_db_health)]

    def after_answers(self) -> list[Step]:
        return [("pacs 4568", self.check_pacs_service), ("storage", self.check_free_space)]

    def after_backup(self) -> list[Step]:
        return [("certificate", lambda: check_certificate(self.cfg)), ("versions", self.check_versions)]

    def check_db_health(self) -> Check:
        db = self.container(DB_CONTAINER)
        if db is None or db.status != "running":
            return Check("db health", FAIL, "db is not running")
        health = (db.attrs.get("State", {}).get("Health") or {}).get("Status", "none")
        return Check("db health", PASS if health == "healthy" else FAIL, health,
                     "" if health == "healthy" else "`docker logs db` on the host")

    def check_pacs_service(self) -> Check:
        host, port = self.cfg.public_host_name, self.cfg.ports.pacs_service
        try:
            with socket.create_connection((host, port), timeout=10):
                return Check("pacs 4568", PASS, f"{host}:{port} accepts connections")
        except OSError as e:
            return Check("pacs 4568", FAIL, f"{host}:{port}: {e}", "check the pacs container and o3:ports.pacsService")

    def check_free_space(self) -> Check:
        req, _ = sizing.for_site(self.cfg)
        return check_storage(HostProbe(self.site.client, self.cfg.images.db), self.cfg.site.storage_path,
                             req.storage_gb.value)

    def check_versions(self) -> Check:
        deployed, differ = {}, []
        for name, ref in self.declared().items():
            c = self.container(name)
            running = c.labels.get("o3.image") if c is not None else None
            deployed[name] = version_of(running) if running else "none"
            if running != ref:
                differ.append(f"{name} {deployed[name]} (declared {version_of(ref)})")
        if differ:
            return Check("versions", FAIL, "deployed differs from declared: " + "; ".join(differ),
                         "run `pulumi up` for this stack")
        shown = {n: deployed[n] for n in (DB_CONTAINER, PACS_CONTAINER, VIEW_CONTAINER)}
        return Check("versions", PASS, ", ".join(f"{k} {v}" for k, v in shown.items()) + " as declared")
