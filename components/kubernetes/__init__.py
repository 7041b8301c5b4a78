"""The site on the hospital's Kubernetes cluster: the vendor guide's parts as Kubernetes objects,
with the same names, variables, mount points and ports the applications see on Docker
(sitespec/guide.py). Below: what these components share."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any, Mapping, Optional

import pulumi

from sitespec.containers import Container
from sitespec.guide import FOLDERS, KUBE_DATA_VOLUME, KUBE_DB_SECRET, MAINTENANCE_SCRIPT, MOUNTS

DATA_VOLUME = KUBE_DATA_VOLUME  # the ReadWriteMany volume: DICOM storage, the apps' logs and shared-persist, backups
DB_SECRET = KUBE_DB_SECRET  # the root password and the guide's three connection strings
PULL_SECRET = "o3-registry"
SCRIPTS = "o3-scripts"  # a ConfigMap: the dump and schema scripts
# The shared schema script keeps its first key in that ConfigMap: the Job runs it by that path,
# and a Job's template is immutable, so a new path would replace every deployed site's Job.
SCHEMA_SCRIPT_KEY = "kube-schemas.sh"
SCRIPTS_MOUNT = posixpath.dirname(MAINTENANCE_SCRIPT)  # where o3-maintenance has them on Docker too


def labels(site: str, role: str) -> dict[str, str]:
    """Every object's labels; `app.kubernetes.io/name` selects a role's pods."""
    return {"app.kubernetes.io/name": role, "app.kubernetes.io/part-of": "o3", "o3.site": site}


def selector(site: str, role: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": role, "o3.site": site}


def env(values: Mapping[str, str]) -> list[dict[str, Any]]:
    """Literal variables, sorted (never a secret: those go through secret_env)."""
    return [{"name": k, "value": v} for k, v in sorted(values.items())]


def secret_env(name: str, key: Optional[str] = None) -> dict[str, Any]:
    """A variable read from the site's db Secret by secretKeyRef: the value is never in the pod spec."""
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": DB_SECRET, "key": key or name}}}


def container_env(c: Container, timezone: str, extra: Mapping[str, str]) -> list[dict[str, Any]]:
    """A guide container's variables (sitespec.containers): o3:extraEnv and the literal ones sorted,
    then the secret ones by secretKeyRef, in the description's order."""
    return env(c.literal_env(timezone, extra)) + [secret_env(var) for var in c.secret_env]


def service_ports(c: Container, http: bool = True) -> list[dict[str, Any]]:
    """A guide container's ports (sitespec.containers) as a Service's; without the plain HTTP ones
    when `http` is False (behind the HTTPS front door)."""
    return [{"name": p.name, "port": p.number, "targetPort": p.number} for p in c.ports if http or not p.http]


def data_mounts(container: str) -> list[dict[str, Any]]:
    """The guide's mounts of a container, each a folder (subPath) of the site's data volume,
    laid out as under the Docker site's storage path."""
    return [{"name": DATA_VOLUME, "mountPath": path, "subPath": FOLDERS[role]} for role, path in MOUNTS[container]]


def data_volume() -> dict[str, Any]:
    return {"name": DATA_VOLUME, "persistentVolumeClaim": {"claimName": DATA_VOLUME}}


def pull_secrets(with_login: bool) -> Optional[list[dict[str, str]]]:
    return [{"name": PULL_SECRET}] if with_login else None


def resources(cpu: str, memory: str) -> dict[str, Any]:
    """Requests from the sizing table, and a memory limit of the same size (the apps' JVMs size
    their heap from it); no CPU limit, which would only throttle."""
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}}


@dataclass(frozen=True)
class KubePartArgs:
    """What every part of a Kubernetes site is placed by: the site and its namespace."""

    site: str
    """o3:site.name, in the objects' labels (and the dumps' first line)."""
    namespace: pulumi.Input[str]
    """The site's namespace."""


# --- losing a node, draining a node (README: a hospital's bad day) ----------------------------------

def node_loss_tolerations(seconds: int) -> list[dict[str, Any]]:
    """o3:kubernetes.nodeLossSeconds: how long a pod stays bound to a node that is not ready or
    unreachable before it is evicted and replaced elsewhere (Kubernetes' default is 300 s)."""
    return [{"key": f"node.kubernetes.io/{taint}", "operator": "Exists", "effect": "NoExecute",
             "tolerationSeconds": seconds} for taint in ("not-ready", "unreachable")]


def spread(site: str, role: str) -> list[dict[str, Any]]:
    """A role's replicas one per node as far as they go. `matchLabelKeys: [pod-template-hash]`
    counts only the pods of the same ReplicaSet: without it the old ReplicaSet's pods count while
    a rollout runs, and a rollout may leave every new replica on one node."""
    return [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
             "nodeTaintsPolicy": "Honor", "labelSelector": {"matchLabels": selector(site, role)},
             "matchLabelKeys": ["pod-template-hash"]}]


def disruption_budget(name: str, site: str, role: str, namespace: pulumi.Input[str],
                      opts: pulumi.ResourceOptions) -> pulumi.Resource:
    """A drain evicts at most one of the role's pods at a time, and only while all of them are
    ready: the Service always keeps a ready replica."""
    import pulumi_kubernetes as k8s

    return k8s.policy.v1.PodDisruptionBudget(
        name, metadata={"name": role, "namespace": namespace, "labels": labels(site, role)},
        spec={"maxUnavailable": 1, "selector": {"matchLabels": selector(site, role)}}, opts=opts)
