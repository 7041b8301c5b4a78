"""The Kubernetes site's facts (sitespec.facts) from what the engine sends: the workloads (their
pod templates, replicas and containers), the pods' requests and the data volume as the site's
size, the Services that leave the cluster, and the Secrets.

Quantities are read by sitespec.quantity; one it cannot read is named in the capacity's
`unreadable` (the sizing rules report it: the site's size cannot be proven without it).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from sitespec import quantity
from sitespec.facts import (Capacity, Confinement, ContainerFacts, Image, Isolation, Mount, Published, SiteFacts, Text,
                            Workload)
from sitespec.guide import DB_CONTAINER, KUBE_DATA_VOLUME, MYSQL_PORT, SINGLETON_CONTAINER

from . import _engine
from ._engine import items, known, strings

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
JOB = "kubernetes:batch/v1:Job"
CRONJOB = "kubernetes:batch/v1:CronJob"
SERVICE = "kubernetes:core/v1:Service"
SECRET = "kubernetes:core/v1:Secret"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
WORKLOADS = (DEPLOYMENT, STATEFULSET, JOB, CRONJOB)
RUNNING = (DEPLOYMENT, STATEFULSET)  # what runs all the time, and counts for the site's size
OUTSIDE = ("NodePort", "LoadBalancer")  # Service types reachable from outside the cluster
SHOWN = "the pod spec (`kubectl get -o yaml` shows it to anyone who may read the workload)"
KEEP_IN_SECRET = "keep it in the site's Secret and read it with secretKeyRef or a secret volume."


def is_kubernetes(resources: Iterable[Any]) -> bool:
    return any(str(r.resource_type).startswith("kubernetes:") for r in resources)


def metadata_name(r: Any) -> Optional[str]:
    return known(known(r.props, "metadata", {}), "name")


@dataclass
class _Pod:
    resource: Any
    name: str
    replicas: int
    spec: Any  # the pod spec proxy


def _pod(r: Any) -> _Pod:
    spec = known(r.props, "spec", {})
    if r.resource_type == CRONJOB:
        spec = known(known(spec, "jobTemplate", {}), "spec", {})
    replicas = int(known(spec, "replicas", 1)) if r.resource_type in RUNNING else 1
    return _Pod(r, metadata_name(r) or r.name, replicas, known(known(spec, "template", {}), "spec", {}))


def _env(c: Any) -> dict[str, Optional[str]]:
    """name -> the literal value, or None when read from elsewhere (valueFrom)."""
    return {known(e, "name"): known(e, "value") for e in items(known(c, "env", [])) if known(e, "name")}


def _mounts(c: Any, kinds: dict[str, str]) -> list[Mount]:
    out = []
    for m in items(known(c, "volumeMounts", [])):
        path, kind = known(m, "mountPath"), kinds.get(known(m, "name"), "missing")
        if path is None:
            continue
        if kind == "claim":
            out.append(Mount(path, True, "", ""))
        else:
            out.append(Mount(path, False, f"is on a {kind} volume, not a PersistentVolumeClaim",
                             "its data would not survive the pod (or stays on one node)"))
    return out


def _volume_kinds(spec: Any) -> dict[str, str]:
    kinds = {}
    for v in items(known(spec, "volumes", [])):
        kinds[known(v, "name")] = "claim" if known(v, "persistentVolumeClaim") is not None else next(
            (k for k in ("emptyDir", "hostPath", "secret", "configMap") if known(v, k) is not None), "other")
    return kinds


def _confinement(pod_spec: Any, c: Any) -> Confinement:
    """A container's securityContext, over its pod's (seccomp)."""
    sc = known(c, "securityContext", {})
    caps = known(sc, "capabilities", {})
    seccomp = known(known(sc, "seccompProfile", {}), "type") or known(
        known(known(pod_spec, "securityContext", {}), "seccompProfile", {}), "type")
    escalation = bool(known(sc, "privileged", False)) or known(sc, "allowPrivilegeEscalation", True) is not False
    return Confinement(escalation, "ALL" in items(known(caps, "drop", [])),
                       tuple(str(a) for a in items(known(caps, "add", []))), seccomp)


def _unbounded_job(r: Any, pod: _Pod) -> Optional[str]:
    """Why a Job or a CronJob's runs are not bounded: no deadline, or a container without requests."""
    if r.resource_type not in (JOB, CRONJOB):
        return None
    spec = known(r.props, "spec", {})
    job = known(known(spec, "jobTemplate", {}), "spec", {}) if r.resource_type == CRONJOB else spec
    if known(job, "activeDeadlineSeconds") is None:
        return "has no activeDeadlineSeconds: a hung run is never ended" + (
            " and, with concurrencyPolicy Forbid, blocks every later one" if r.resource_type == CRONJOB else "")
    bare = [known(c, "name", "?") for c in items(known(pod.spec, "containers", []))
            if not known(known(c, "resources", {}), "requests")]
    if bare:
        return f"has a container without requests ({', '.join(bare)}): the scheduler reserves nothing for it"
    return None


def _workload(r: Any) -> Workload:
    pod = _pod(r)
    kinds = _volume_kinds(pod.spec)
    containers = tuple(
        ContainerFacts(known(c, "name", ""), known(c, "image", ""), _env(c), SHOWN, tuple(_mounts(c, kinds)),
                       confinement=_confinement(pod.spec, c))
        for c in items(known(pod.spec, "containers", [])))
    overlapping = None
    if r.resource_type == DEPLOYMENT:
        strategy = known(known(known(r.props, "spec", {}), "strategy", {}), "type")
        if strategy != "Recreate":
            overlapping = f"strategy {strategy or 'RollingUpdate'}"
    return Workload(pod.name, "workload", r.resource_type in RUNNING, pod.replicas, containers, r.urn,
                    overlapping_rollout=overlapping,
                    api_token=known(pod.spec, "automountServiceAccountToken", True) is not False,
                    unbounded_job=_unbounded_job(r, pod))


def _template_labels(r: Any) -> dict[str, str]:
    template = known(known(r.props, "spec", {}), "template", {})
    labels = known(known(template, "metadata", {}), "labels", {})
    return {k: v for k in list(labels) if isinstance(v := known(labels, k), str)}


def _selects(selector: Any, labels: dict[str, str]) -> bool:
    """Whether a podSelector may select pods with these labels (matchExpressions count as yes)."""
    match = known(selector, "matchLabels", {})
    return all(labels.get(k) == known(match, k) for k in list(match))


def _isolation(resources: list[Any]) -> Isolation:
    policies = [r for r in resources if r.resource_type == NETWORK_POLICY]
    db = next((r for r in resources if r.resource_type == STATEFULSET and metadata_name(r) == DB_CONTAINER), None)
    db_labels = _template_labels(db) if db is not None else None
    deny, guarded, opened = False, db is None, []
    for p in policies:
        spec = known(p.props, "spec", {})
        selector = known(spec, "podSelector", {})
        types = set(items(known(spec, "policyTypes", [])))
        every_pod = not known(selector, "matchLabels") and not known(selector, "matchExpressions")
        if every_pod and {"Ingress", "Egress"} <= types and not items(known(spec, "ingress", [])) \
                and not items(known(spec, "egress", [])):
            deny = True
        if db_labels is None or not _selects(selector, db_labels) or "Ingress" not in types:
            continue
        guarded = True
        for i, rule in enumerate(items(known(spec, "ingress", []))):
            ports = [known(q, "port") for q in items(known(rule, "ports", []))]
            if not items(known(rule, "from", [])) and (not ports or MYSQL_PORT in ports or "mysql" in ports):
                opened.append(f"NetworkPolicy '{metadata_name(p) or p.name}' ingress[{i}] admits any source")
    return Isolation(deny, tuple(opened), guarded)


def _requests(resources: list[Any]) -> tuple[Optional[Capacity], Optional[Capacity]]:
    """(cores, GB) the site's running pods request in all; None while a workload's requests are
    not known yet (preview)."""
    cpu = mem = 0.0
    bad: dict[str, list[str]] = {"cpu": [], "memory": []}
    for r in resources:
        if r.resource_type not in RUNNING:
            continue
        pod = _pod(r)
        for c in items(known(pod.spec, "containers", [])):
            req = known(known(c, "resources", {}), "requests", None)
            if req is None:
                return None, None
            for key in ("cpu", "memory"):
                q = known(req, key, 0)
                try:
                    value = quantity.cores(q) if key == "cpu" else quantity.gib(q)
                except quantity.QuantityError as e:
                    bad[key].append(f"workload '{pod.name}' requests {key} {e}")
                    continue
                if key == "cpu":
                    cpu += value * pod.replicas
                else:
                    mem += value * pod.replicas
    # Rounded: 1.2 + 0.6 + 2 x 1.2 + 2 x 0.9 cores is 5.999999999999999 in floats, which is 6.
    return (Capacity(round(cpu, 6), "the pods request {}", tuple(bad["cpu"])),
            Capacity(round(mem, 6), "the pods request {}", tuple(bad["memory"])))


def _data_volume(resources: list[Any]) -> Optional[Capacity]:
    for r in resources:
        if r.resource_type == PVC and metadata_name(r) == KUBE_DATA_VOLUME:
            storage = known(known(known(known(r.props, "spec", {}), "resources", {}), "requests", {}), "storage")
            if storage is None:
                return None
            said = f"the data volume {KUBE_DATA_VOLUME} has {{}}"
            try:
                return Capacity(quantity.gib(storage), said)
            except quantity.QuantityError as e:
                return Capacity(0.0, said, (f"PersistentVolumeClaim '{KUBE_DATA_VOLUME}' requests storage {e}",))
    return None


def _published(r: Any) -> list[Published]:
    spec = known(r.props, "spec", {})
    kind = known(spec, "type", "ClusterIP")
    if kind not in OUTSIDE:
        return []
    name = metadata_name(r)
    out = []
    for p in items(known(spec, "ports", [])):
        ports = tuple(sorted({int(n) for n in (known(p, "port"), known(p, "targetPort")) if isinstance(n, (int, float))}))
        out.append(Published(name or r.name, ports, "everywhere", f"Service '{name}' ({kind}) serves {{port}} to the network",
                             r.urn))
    return out


def _secret_values(props: Any) -> set[str]:
    """A Secret's values (stringData as given, data decoded), and the passwords inside them
    (`password=` of a connection string, a pull Secret's registry password)."""
    values: set[str] = {v for _, v in strings(known(props, "stringData", {}))}
    for _, v in strings(known(props, "data", {})):
        try:
            values.add(base64.b64decode(v).decode())
        except ValueError:
            continue
    inner = set()
    for v in values:
        inner |= _engine.connection_passwords(v)
        try:
            auths = json.loads(v).get("auths", {})
        except (ValueError, AttributeError):
            continue
        inner.update(a.get("password", "") for a in auths.values() if isinstance(a, dict))
    return values | inner


def extract(resources: Iterable[Any]) -> SiteFacts:
    resources = list(resources)
    site = SiteFacts(commands=_engine.commands(resources), secrets=_engine.common_secrets(resources))
    found = _engine.record(resources)
    if found:
        site.record = found[0]
    cores, memory = _requests(resources)
    storage = _data_volume(resources)
    site.capacity = {k: v for k, v in (("cpuCores", cores), ("memoryGb", memory), ("storageGb", storage)) if v}
    # pacs-singleton was a Deployment until issue 27, a StatefulSet since: while a site of an earlier
    # release is taken over, the engine shows both, the Deployment (deleted before the StatefulSet is
    # created: an alias, delete-before-replace) and its replacement, one resource of one name.
    stateful = {r.name for r in resources if r.resource_type == STATEFULSET}
    replaced = {r.urn for r in resources if r.resource_type == DEPLOYMENT and r.name in stateful
                and metadata_name(r) == SINGLETON_CONTAINER}
    for r in resources:
        kube = str(r.resource_type).startswith("kubernetes:")
        if r.urn in replaced:
            continue
        if r.resource_type in WORKLOADS:
            w = _workload(r)
            site.workloads.append(w)
            site.images += [Image(c.image or "", r.urn) for c in w.containers]
            if r.resource_type == STATEFULSET and w.name == DB_CONTAINER:
                site.db_image = next((Image(c.image or "", r.urn) for c in w.containers if c.name == DB_CONTAINER), None)
        elif r.resource_type == SERVICE:
            site.published += _published(r)
        elif r.resource_type == SECRET:
            site.secrets |= _secret_values(r.props)
            continue  # where secrets belong
        if kube:  # anything in an object but a Secret: anyone who may read the object sees it
            owner = metadata_name(r) or r.name
            site.texts += [Text(owner, path, text, r.urn, password_flags=r.resource_type in WORKLOADS, fix=KEEP_IN_SECRET)
                           for path, text in strings(r.props)]
        else:
            site.texts += _engine.texts(r, _engine.command_lines(r))
    site.secrets = _engine.worth_checking(site.secrets)
    if site.workloads:  # the site's own stack (a single resource checked alone says nothing of the namespace)
        site.isolation = _isolation(resources)
    return site
