"""Preflight: checks a site's Docker host before `pulumi up`, from the same stack config.

    python -m ops.preflight --stack <site> [--registry-key-file key.json] [--json]

On Kubernetes (o3:platform kubernetes) it checks the cluster instead: its API answers, its
nodes' allocatable CPU and memory, less what other pods already request, can hold the site's
requests (and its largest pod on one node), the storage class exists, and the namespace is free
or the site's own.

Talks to the stack's Docker host (`docker:host`, local socket or ssh://) and reports each check
as pass / warn / fail with the measured value and the fix; exits 1 when any check fails.
Measurements inside the host (free space, listening ports, routes, ulimits) run in short-lived
helper containers (`--rm`, read-only host mounts), so they work the same on a remote host.
Nothing on the host is changed, except that the helper image is pulled when it is missing.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from typing import Any, Callable, Optional, Sequence

from sitespec import sizing
from sitespec.config import SiteConfig, is_registry_key
from sitespec.guide import DB_CONTAINER, PACS_CONTAINER, VIEW_CONTAINER
from sitespec.stackfile import read_raw, validate

from ._checks import FAIL, PASS, WARN, Check, guarded, report
from ._cli import OpsError, add_dir_argument, readable_file, run
from ._cluster import ClusterAccess, cluster_access
from ._host import HostProbe, free_gb
from ._site import connect

MEMORY_TOLERANCE = 0.95  # the kernel keeps some RAM: a 12 GB host reports ~11.6 GiB


# --- individual checks: each takes what it measures against and returns a Check ----------

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


# --- the command ----------------------------------------------------------------------------

def run_checks(cfg: SiteConfig, helper_image: str, key: Optional[str], key_is_set: bool) -> list[Check]:
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


# --- a Kubernetes site --------------------------------------------------------------------------

def _cpu(q: Optional[str]) -> float:
    q = str(q or "0")
    return float(q[:-1]) / 1000 if q.endswith("m") else float(q)


def _gb(q: Optional[str]) -> float:
    q = str(q or "0")
    for unit, factor in (("Ki", 2**10), ("Mi", 2**20), ("Gi", 2**30), ("Ti", 2**40), ("k", 1e3), ("M", 1e6), ("G", 1e9)):
        if q.endswith(unit):
            return float(q[: -len(unit)]) * factor / 2**30
    return float(q) / 2**30


def run_kube_checks(cfg: SiteConfig, access: ClusterAccess) -> list[Check]:
    from kubernetes import client as kclient

    from ._cluster import api_client

    k = cfg.kubernetes
    assert k is not None
    namespace = k.namespace or cfg.site.name
    try:
        api = api_client(access)
        version = kclient.VersionApi(api).get_code().git_version
    except OpsError as e:
        return [Check("cluster", FAIL, str(e))]
    except Exception as e:  # noqa: BLE001 - the client's own words
        return [Check("cluster", FAIL, f"the Kubernetes API does not answer: {e}",
                      "check kubernetes:kubeconfig / kubernetes:context (or KUBECONFIG)")]
    checks = [Check("cluster", PASS, f"Kubernetes {version}")]
    core, storage = kclient.CoreV1Api(api), kclient.StorageV1Api(api)
    req, _ = sizing.for_site(cfg)
    plan = sizing.kube_plan(req, cfg.site.concurrent_users, k.replicas.pacs, k.replicas.view,
                            external_db=bool(k.database.external_host))

    def capacity() -> list[Check]:
        nodes = [n for n in core.list_node().items
                 if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])]
        used_cpu: dict[str, float] = {}
        used_mem: dict[str, float] = {}
        for pod in core.list_pod_for_all_namespaces(field_selector="status.phase!=Succeeded,status.phase!=Failed").items:
            if pod.metadata.namespace == namespace or not pod.spec.node_name:
                continue  # the site's own pods are what it needs, not what it competes with
            for c in pod.spec.containers:
                r = (c.resources.requests if c.resources else None) or {}
                used_cpu[pod.spec.node_name] = used_cpu.get(pod.spec.node_name, 0) + _cpu(r.get("cpu"))
                used_mem[pod.spec.node_name] = used_mem.get(pod.spec.node_name, 0) + _gb(r.get("memory"))
        free = {n.metadata.name: (_cpu(n.status.allocatable.get("cpu")) - used_cpu.get(n.metadata.name, 0),
                                  _gb(n.status.allocatable.get("memory")) - used_mem.get(n.metadata.name, 0)) for n in nodes}
        cpu, mem = sum(f[0] for f in free.values()), sum(f[1] for f in free.values())
        out = []
        for name, have, need, unit in (("cores", cpu, plan.total_cores, "cores"), ("memory", mem, plan.total_memory_gb, "GB")):
            msg = f"{have:.1f} {unit} allocatable and not requested on {len(nodes)} ready node(s), the site requests {need:.1f}"
            out.append(Check(name, PASS if have >= need else FAIL, msg,
                             "" if have >= need else "add nodes, or free what other workloads request"))
        big = max(plan.requests.values(), key=lambda r: r.cpu_millis)
        fits = any(c >= big.cpu_millis / 1000 and m >= big.memory_mib / 1024 for c, m in free.values())
        out.append(Check("largest pod", PASS if fits else FAIL,
                         f"{big.cpu} / {big.memory} per pod" + (" fits on a node" if fits else ": no node has that free"),
                         "" if fits else "raise o3:kubernetes.replicas (smaller pods), or use larger nodes"))
        return out

    def storage_class() -> Check:
        names = {c.metadata.name for c in storage.list_storage_class().items}
        if k.storage_class not in names:
            return Check("storage class", FAIL, f"no storage class {k.storage_class} (the cluster has {', '.join(sorted(names)) or 'none'})",
                         "set o3:kubernetes.storageClass to a class that offers ReadWriteMany")
        return Check("storage class", PASS, f"{k.storage_class} exists (it must offer ReadWriteMany)")

    def namespace_free() -> Check:
        from kubernetes.client.exceptions import ApiException

        try:
            ns = core.read_namespace(namespace)
        except ApiException as e:
            if e.status == 404:
                return Check("namespace", PASS, f"{namespace} is free")
            raise
        owner = (ns.metadata.labels or {}).get("o3.site")
        if owner != cfg.site.name:
            return Check("namespace", FAIL, f"{namespace} exists and is not site {cfg.site.name}'s",
                         "set o3:kubernetes.namespace to a namespace of its own")
        return Check("namespace", PASS, f"{namespace} is this site's")

    guarded(checks, "capacity", capacity)
    guarded(checks, "storage class", storage_class)
    guarded(checks, "namespace", namespace_free)
    return checks


def _main(argv: Optional[Sequence[str]]) -> int:
    p = argparse.ArgumentParser(prog="python -m ops.preflight", description=__doc__.split("\n\n")[0])
    p.add_argument("--stack", required=True, help="site stack (Pulumi.<stack>.yaml)")
    add_dir_argument(p)
    p.add_argument("--registry-key-file", type=readable_file,
                   help="the registry's JSON key, to test the login (stack secrets stay encrypted)")
    p.add_argument("--helper-image", help="image with sh/df/cat for the measurements (default: o3:images.db)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    args = p.parse_args(argv)
    raw, secure = read_raw(args.stack, args.dir)  # secure: which secrets are set (not readable)
    cfg = validate(raw, secure)
    key = args.registry_key_file.read_text() if args.registry_key_file else os.environ.get("O3_REGISTRY_KEY")
    if key is not None and not is_registry_key(key):
        source = f"--registry-key-file {args.registry_key_file}" if args.registry_key_file else "O3_REGISTRY_KEY"
        raise OpsError(f"{source} is not a registry JSON key (a service-account key file's content)")
    if cfg.platform == "kubernetes":
        checks = run_kube_checks(cfg, cluster_access(args.stack, args.dir))
    else:
        checks = run_checks(cfg, args.helper_image or cfg.images.db, key, "o3:registryKey" in secure)
    return report(checks, cfg, args.stack, "preflight for", "ready for `pulumi up`",
                  "FAIL - fix the above before `pulumi up`", args.json)


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run(_main, "preflight", argv)


if __name__ == "__main__":
    sys.exit(main())
