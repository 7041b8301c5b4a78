"""What the rules read from a Kubernetes site, as the engine sends it: the workloads (their pod
templates, replicas and containers), requests in cores and GB, and the Services.

Props arrive camelCase with numbers as floats and secrets unwrapped; during preview some are not
known yet, and those are skipped (the `up` run checks them again on real values).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from .common import known

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
JOB = "kubernetes:batch/v1:Job"
CRONJOB = "kubernetes:batch/v1:CronJob"
SERVICE = "kubernetes:core/v1:Service"
CONFIGMAP = "kubernetes:core/v1:ConfigMap"
SECRET = "kubernetes:core/v1:Secret"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
WORKLOADS = (DEPLOYMENT, STATEFULSET, JOB, CRONJOB)
RUNNING = (DEPLOYMENT, STATEFULSET)  # what runs all the time, and counts for the site's size


@dataclass
class Workload:
    resource: Any
    name: str
    kind: str
    replicas: int
    pod: Any  # the pod spec proxy


def is_kubernetes(resources: Iterable[Any]) -> bool:
    return any(str(r.resource_type).startswith("kubernetes:") for r in resources)


def metadata_name(r: Any) -> Optional[str]:
    return known(known(r.props, "metadata", {}), "name")


def workloads(resources: Iterable[Any], kinds: tuple[str, ...] = WORKLOADS) -> list[Workload]:
    out = []
    for r in resources:
        if r.resource_type not in kinds:
            continue
        spec = known(r.props, "spec", {})
        if r.resource_type == CRONJOB:
            spec = known(known(spec, "jobTemplate", {}), "spec", {})
        replicas = int(known(spec, "replicas", 1)) if r.resource_type in RUNNING else 1
        pod = known(known(spec, "template", {}), "spec", {})
        out.append(Workload(r, metadata_name(r) or r.name, r.resource_type, replicas, pod))
    return out


def containers(w: Workload) -> list[Any]:
    cs = known(w.pod, "containers", [])
    return [known(cs, i, {}) for i in range(len(cs))]


def env_of(container: Any) -> dict[str, Any]:
    """name -> the env entry (with `value` or `valueFrom`)."""
    env = known(container, "env", [])
    out = {}
    for i in range(len(env)):
        e = known(env, i, {})
        if known(e, "name"):
            out[known(e, "name")] = e
    return out


_CPU = re.compile(r"^([0-9.]+)(m?)$")
_MEM = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "": 1}


def cores(q: Any) -> float:
    m = _CPU.match(str(q))
    if not m:
        return 0.0
    return float(m.group(1)) / (1000 if m.group(2) else 1)


def gigabytes(q: Any) -> float:
    """A memory quantity in GB as the vendor's table counts them (GiB)."""
    m = re.match(r"^([0-9.]+)([KMGT]i?|)$", str(q))
    if not m:
        return 0.0
    return float(m.group(1)) * _MEM[m.group(2)] / 2**30


def requested(resources: Iterable[Any]) -> tuple[float, float, list[str]]:
    """(cores, GB) the site's running pods request in all, and the workloads whose requests are
    not known yet (preview)."""
    total_cpu = total_mem = 0.0
    unknown = []
    for w in workloads(resources, RUNNING):
        for c in containers(w):
            req = known(known(c, "resources", {}), "requests", None)
            if req is None:
                unknown.append(w.name)
                continue
            total_cpu += cores(known(req, "cpu", 0)) * w.replicas
            total_mem += gigabytes(known(req, "memory", 0)) * w.replicas
    # Rounded: 1.2 + 0.6 + 2 x 1.2 + 2 x 0.9 cores is 5.999999999999999 in floats, which is 6.
    return round(total_cpu, 6), round(total_mem, 6), unknown


def claim_gb(resources: Iterable[Any], name: str) -> Optional[float]:
    for r in resources:
        if r.resource_type == PVC and metadata_name(r) == name:
            storage = known(known(known(known(r.props, "spec", {}), "resources", {}), "requests", {}), "storage")
            return gigabytes(storage) if storage is not None else None
    return None
