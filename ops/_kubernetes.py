"""A site on a Kubernetes cluster, as preflight and verify see it, through the cluster's API.

Preflight: the API answers; the ready nodes' allocatable CPU and memory, less what other pods
already request, hold the site's requests (and its largest pod on one node); the storage class
exists; the namespace is free or the site's own. For verify, `Kubernetes` reads the site's
workloads, pods, CronJob and data volume, and asks the apps through their Services.
"""

from __future__ import annotations

from typing import Any, Optional

from sitespec import quantity, sizing
from sitespec.config import SiteConfig
from sitespec.guide import (
    DB_CONTAINER,
    KUBE_DATA_VOLUME,
    MAINTENANCE_CONTAINER,
    PACS_CONTAINER,
    PACS_HTTP_PORT,
    PACS_SERVICE_PORT,
    SINGLETON_CONTAINER,
    VIEW_CONTAINER,
    VIEW_HTTP_PORT,
)
from sitespec.imageref import version_of
from sitespec.offsite import CONTAINER as OFFSITE_CONTAINER

from ._checks import FAIL, PASS, WARN, Check, guarded
from ._cli import OpsError
from ._cluster import ClusterAccess, DeployedKubeSite, api_client, ready
from ._platform import Answer, App, Nightly, Platform, Reply, Step, Unavailable, mysql_command
from ._site import Exec


def free_on_nodes(core: Any, namespace: str) -> dict[str, tuple[float, float]]:
    """Ready node -> (cores, GiB) allocatable and not requested by other namespaces' pods (the
    site's own pods are what it needs, not what it competes with)."""
    used: dict[str, list[float]] = {}
    for pod in core.list_pod_for_all_namespaces(field_selector="status.phase!=Succeeded,status.phase!=Failed").items:
        if pod.metadata.namespace == namespace or not pod.spec.node_name:
            continue
        node = used.setdefault(pod.spec.node_name, [0.0, 0.0])
        for c in pod.spec.containers:
            r = (c.resources.requests if c.resources else None) or {}
            node[0] += quantity.cores(r.get("cpu"))
            node[1] += quantity.gib(r.get("memory"))
    free = {}
    for n in core.list_node().items:
        if ready(n):
            cpu, mem = used.get(n.metadata.name, (0.0, 0.0))
            free[n.metadata.name] = (quantity.cores(n.status.allocatable.get("cpu")) - cpu,
                                     quantity.gib(n.status.allocatable.get("memory")) - mem)
    return free


def check_capacity(free: dict[str, tuple[float, float]], plan: sizing.KubePlan) -> list[Check]:
    cpu, mem = sum(f[0] for f in free.values()), sum(f[1] for f in free.values())
    out = []
    for name, have, need, unit in (("cores", cpu, plan.total_cores, "cores"), ("memory", mem, plan.total_memory_gb, "GB")):
        msg = f"{have:.1f} {unit} allocatable and not requested on {len(free)} ready node(s), the site requests {need:.1f}"
        out.append(Check(name, PASS if have >= need else FAIL, msg,
                         "" if have >= need else "add nodes, or free what other workloads request"))
    big = max(plan.requests.values(), key=lambda r: r.cpu_millis)
    fits = any(c >= quantity.cores(big.cpu) and m >= quantity.gib(big.memory) for c, m in free.values())
    out.append(Check("largest pod", PASS if fits else FAIL,
                     f"{big.cpu} / {big.memory} per pod" + (" fits on a node" if fits else ": no node has that free"),
                     "" if fits else "raise o3:kubernetes.replicas (smaller pods), or use larger nodes"))
    return out


def check_storage_class(storage: Any, wanted: str) -> Check:
    names = {c.metadata.name for c in storage.list_storage_class().items}
    if wanted not in names:
        return Check("storage class", FAIL, f"no storage class {wanted} (the cluster has {', '.join(sorted(names)) or 'none'})",
                     "set o3:kubernetes.storageClass to a class that offers ReadWriteMany")
    return Check("storage class", PASS, f"{wanted} exists (it must offer ReadWriteMany)")


def check_namespace(core: Any, namespace: str, site: str) -> Check:
    from kubernetes.client.exceptions import ApiException

    try:
        ns = core.read_namespace(namespace)
    except ApiException as e:
        if e.status == 404:
            return Check("namespace", PASS, f"{namespace} is free")
        raise
    if (ns.metadata.labels or {}).get("o3.site") != site:
        return Check("namespace", FAIL, f"{namespace} exists and is not site {site}'s",
                     "set o3:kubernetes.namespace to a namespace of its own")
    return Check("namespace", PASS, f"{namespace} is this site's")


class Kubernetes(Platform):
    """A site on a Kubernetes cluster (the stack's kubeconfig and context)."""

    unit = "pod"
    listing = "`kubectl get pods`"

    def __init__(self, cfg: SiteConfig, access: ClusterAccess):
        super().__init__(cfg)
        assert cfg.kubernetes is not None
        self.access = access
        self.namespace = cfg.kubernetes.namespace or cfg.site.name
        self.external_db = cfg.kubernetes.database.external_host
        self._site: Optional[DeployedKubeSite] = None

    def preflight(self) -> list[Check]:
        from kubernetes import client as kclient

        k = self.cfg.kubernetes
        assert k is not None
        try:
            api = api_client(self.access)
            version = kclient.VersionApi(api).get_code().git_version
        except OpsError as e:
            return [Check("cluster", FAIL, str(e))]
        except Exception as e:  # noqa: BLE001 - the client's own words
            return [Check("cluster", FAIL, f"the Kubernetes API does not answer: {e}",
                          "check kubernetes:kubeconfig / kubernetes:context (or KUBECONFIG)")]
        checks = [Check("cluster", PASS, f"Kubernetes {version}")]
        core = kclient.CoreV1Api(api)
        req, _ = sizing.for_site(self.cfg)
        plan = sizing.kube_plan(req, self.cfg.site.concurrent_users, k.replicas.pacs, k.replicas.view,
                                external_db=bool(self.external_db))
        guarded(checks, "capacity", lambda: check_capacity(free_on_nodes(core, self.namespace), plan))
        guarded(checks, "storage class", lambda: check_storage_class(kclient.StorageV1Api(api), k.storage_class))
        guarded(checks, "namespace", lambda: check_namespace(core, self.namespace, self.cfg.site.name))
        return checks

    def connect(self) -> None:
        self._site = DeployedKubeSite(self.cfg, self.access)

    @property
    def site(self) -> DeployedKubeSite:
        assert self._site is not None, "connect() first"
        return self._site

    def declared(self) -> dict[str, str]:
        images = self.cfg.images
        out = {DB_CONTAINER: images.db, PACS_CONTAINER: images.pacs, SINGLETON_CONTAINER: images.pacs,
               VIEW_CONTAINER: images.view}
        if self.external_db:  # the hospital's MySQL: not the site's to run
            del out[DB_CONTAINER]
        return out

    def app(self, name: str, ref: str) -> App:
        kind = self.site.kind(name)
        w = self.site.workload(kind, name)
        if w is None:
            raise Unavailable(f"no {kind} {name} in {self.site.where}", "run `pulumi up` for this stack")
        want, st = w.spec.replicas or 0, w.status
        ready, updated = st.ready_replicas or 0, st.updated_replicas or 0
        if (st.observed_generation or 0) < w.metadata.generation or ready != want or updated != want:
            raise Unavailable(f"rollout not complete: {ready}/{want} ready, {updated} updated",
                              f"`kubectl -n {self.namespace} describe {kind.lower()}/{name}`")
        image = w.spec.template.spec.containers[0].image
        return App(image=image, wanted=ref, shown=image, wanted_shown=ref, up=f"{ready}/{want} ready on {version_of(image)}")

    def singletons(self) -> list[str]:
        # Terminating pods count: their containers may still run (a grace period, or a node that
        # stopped answering), and two at once is what this check is for.
        return [p.spec.node_name + (" terminating" if p.metadata.deletion_timestamp else "")
                for p in self.site.pods(SINGLETON_CONTAINER, terminating=True)]

    def sql(self, query: str) -> Exec:
        if self.external_db:
            raise Unavailable(f"MySQL is external ({self.external_db}): not read from here; the schema Job checks "
                              "it at each db change", status=WARN)
        pod = self.site.db_pod()
        if pod is None:
            raise Unavailable("no ready db pod", f"`kubectl -n {self.namespace} describe statefulset/db`")
        try:
            return Exec(0, self.site.exec(pod, mysql_command(query)), "")
        except OpsError as e:
            raise Unavailable(str(e), f"`kubectl -n {self.namespace} describe pod/{pod}`") from None

    def answers(self) -> list[Answer]:
        def get(service: str, port: int) -> Reply:
            try:
                self.site.get(service, port)
                return Reply(True)
            except Exception as e:  # noqa: BLE001 - any failure to answer is the finding
                return Reply(False, reason=str(getattr(e, "reason", e)))

        return [Answer(name, f"Service {service}:{port}", lambda s=service, p=port: get(s, p),
                       f"`kubectl -n {self.namespace} logs deploy/{service}`")
                for name, service, port in (("pacs http", PACS_CONTAINER, PACS_HTTP_PORT),
                                            ("view http", VIEW_CONTAINER, VIEW_HTTP_PORT))]

    def nightly(self) -> Nightly:
        from kubernetes.client.exceptions import ApiException

        try:
            cron = self.site.batch.read_namespaced_cron_job(MAINTENANCE_CONTAINER, self.namespace)
        except ApiException as e:
            if e.status == 404:
                raise Unavailable(f"no CronJob {MAINTENANCE_CONTAINER}", "run `pulumi up`") from None
            raise
        last_ok = cron.status.last_successful_time if cron.status else None
        return Nightly(since=cron.metadata.creation_timestamp.timestamp(), logs=f"`kubectl -n {self.namespace} get jobs`",
                       newest=last_ok.timestamp() if last_ok else None)

    def offsite_status(self) -> Optional[dict]:
        """The last finished run of the CronJob o3-offsite (its Jobs; the status file is on the
        volume, which only a pod could read): {} when none ran yet, None without the CronJob."""
        if self.cfg.offsite is None:
            return None
        jobs = [j for j in self.site.batch.list_namespaced_job(self.namespace).items
                if any(o.kind == "CronJob" and o.name == OFFSITE_CONTAINER for o in j.metadata.owner_references or [])
                and (j.status.succeeded or j.status.failed)]
        if not jobs:
            return {}
        last = max(jobs, key=lambda j: j.metadata.creation_timestamp)
        at = f"{last.metadata.creation_timestamp:%Y-%m-%dT%H:%M:%SZ}"
        if last.status.succeeded:
            return {"ok": True, "at": at}
        return {"ok": False, "at": at, "message": f"the Job {last.metadata.name} failed: "
                f"`kubectl -n {self.namespace} logs job/{last.metadata.name} -c restic`"}

    # --- the checks only a cluster has ------------------------------------------------------------

    def after_answers(self) -> list[Step]:
        return [("pacs 4568", self.check_pacs_endpoints), ("storage", self.check_data_volume)]

    def check_pacs_endpoints(self) -> Check:
        ep = self.site.core.read_namespaced_endpoints(PACS_CONTAINER, self.namespace)
        ready = sum(len(s.addresses or []) for s in ep.subsets or []
                    if any(p.port == PACS_SERVICE_PORT for p in s.ports or []))
        return Check("pacs 4568", PASS if ready else FAIL,
                     f"{ready} ready endpoint(s) behind {PACS_CONTAINER}:{PACS_SERVICE_PORT}",
                     "" if ready else f"`kubectl -n {self.namespace} get pods -l app.kubernetes.io/name=pacs`")

    def check_data_volume(self) -> Check:
        claim = self.site.core.read_namespaced_persistent_volume_claim(KUBE_DATA_VOLUME, self.namespace)
        if claim.status.phase != "Bound":
            return Check("storage", FAIL, f"{KUBE_DATA_VOLUME} is {claim.status.phase}", "check its storage class")
        capacity = (claim.status.capacity or {}).get("storage", "0")
        need = sizing.MIN_STORAGE_GB
        ok = quantity.gib(capacity) >= need
        return Check("storage", PASS if ok else FAIL, f"{KUBE_DATA_VOLUME}: {capacity} bound, {need:g} GB required",
                     "" if ok else "raise o3:kubernetes.storageGb")
