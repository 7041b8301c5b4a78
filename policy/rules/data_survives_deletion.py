"""The MySQL data, the DICOM storage and the shared-persist folders survive destroy and replacement.

The program keeps that data in host bind mounts under o3:site.storagePath, which no container,
image or network deletion removes, and its folder step never deletes. The engine does not show
policies `retainOnDelete` (pulumi-policy 1.21's PolicyResourceOptions has no such field), so the
rule checks the substance: data mount points are host bind mounts under the storage path, no
container removes its volumes, every Docker volume is `protect`ed, and no command that touches
the storage path has a delete step.
"""

from typing import Any, Callable

from pulumi_policy import EnforcementLevel, StackValidationPolicy

from sitespec.guide import DATA_MOUNTS

from . import _kube
from .common import COMMAND, VOLUME, containers, known, site_facts


def validate_kube(resources: Any, report: Callable) -> None:
    """On Kubernetes the data lives in PersistentVolumeClaims (the program retains them, and the
    namespace, on destroy: the engine does not show policies retainOnDelete, so the e2e suite
    proves that part); a data mount point on an emptyDir or a node's hostPath dies with its pod or
    stays on one node."""
    for w in _kube.workloads(resources):
        volumes = known(w.pod, "volumes", [])
        kinds = {}
        for i in range(len(volumes)):
            v = known(volumes, i, {})
            kinds[known(v, "name")] = "claim" if known(v, "persistentVolumeClaim") is not None else next(
                (k for k in ("emptyDir", "hostPath", "secret", "configMap") if known(v, k) is not None), "other")
        for c in _kube.containers(w):
            mounts = known(c, "volumeMounts", [])
            for i in range(len(mounts)):
                m = known(mounts, i, {})
                path = known(m, "mountPath")
                if path in DATA_MOUNTS and kinds.get(known(m, "name")) != "claim":
                    report(f"workload '{w.name}': {path} is on a {kinds.get(known(m, 'name'), 'missing')} volume, not a "
                           "PersistentVolumeClaim: its data would not survive the pod. Fix: mount the site's data "
                           "volume (o3-data) or the db's claim.", w.resource.urn)


def validate(args: Any, report: Callable) -> None:
    if _kube.is_kubernetes(args.resources):
        validate_kube(args.resources, report)
        return
    found = site_facts(args.resources)
    storage = found[1].get("storagePath") if found else None
    for c in containers(args.resources):
        name = known(c.props, "name")
        if known(c.props, "removeVolumes"):
            report(f"container '{name}' has remove_volumes: its volumes would be deleted with it.", c.urn)
        volumes = known(c.props, "volumes", [])
        for i in range(len(volumes)):
            v = known(volumes, i, {})
            path = known(v, "containerPath")
            if path not in DATA_MOUNTS:
                continue
            host = known(v, "hostPath")
            if not host:
                report(f"container '{name}': {path} is not a host bind mount (a Docker volume can be removed "
                       "with the container or by a prune). Fix: bind-mount a folder under o3:site.storagePath.", c.urn)
            elif storage and not (host == storage or host.startswith(storage.rstrip("/") + "/")):
                report(f"container '{name}': {path} is mounted from {host}, outside o3:site.storagePath "
                       f"({storage}), where backups and the data-folder step do not look.", c.urn)
    for r in args.resources:
        if r.resource_type == VOLUME and not (r.opts and r.opts.protect):
            report(f"Docker volume '{r.name}' is not protected: `pulumi destroy` would delete it and its data. "
                   "Fix: protect=True, or keep the data in a bind mount.", r.urn)
        if r.resource_type == COMMAND and storage:
            text = " ".join(str(known(r.props, k, "")) for k in ("create", "update", "delete"))
            if storage in text and known(r.props, "delete"):
                report(f"command '{r.name}' touches {storage} and has a delete step: it could remove site data "
                       "on destroy or replacement. Fix: drop the delete step.", r.urn)


POLICY = StackValidationPolicy(
    name="o3-data-survives-deletion",
    description="Site data (MySQL, DICOM storage, shared-persist) lives where no destroy or replacement deletes it.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate,
)
