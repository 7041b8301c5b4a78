"""The site's data volume: one ReadWriteMany claim (the hospital's NAS) holding the DICOM storage,
the apps' log and shared-persist folders and the dumps, laid out as the Docker site's storage
path (`compose/storage`, `compose/pacs/log`, ..., `backups`). pacs, pacs-singleton and view on any
node mount the same folders. Retained on destroy, as are the namespace and the db's volume: a
later `up` finds the data again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from .. import SCHEMA_SCRIPT, TYPE_PREFIX, script
from . import KubePartArgs, DATA_VOLUME, SCHEMA_SCRIPT_KEY, SCRIPTS, labels

# The scripts the Jobs and the CronJob run (mounted read-only from a ConfigMap).
SCRIPT_FILES = {"maintenance.sh": "maintenance.sh", "kube-dump.sh": "kube-dump.sh", SCHEMA_SCRIPT_KEY: SCHEMA_SCRIPT}


@dataclass(frozen=True)
class KubeDataVolumeArgs(KubePartArgs):
    """What the data volume is made from."""

    storage_class: str
    """o3:kubernetes.storageClass: a class that offers ReadWriteMany."""
    storage_gb: int
    """o3:kubernetes.storageGb: the claim's size in GB."""


class KubeDataVolume(pulumi.ComponentResource):
    """The claim `o3-data`, and the scripts' ConfigMap."""

    claim: k8s.core.v1.PersistentVolumeClaim
    scripts: k8s.core.v1.ConfigMap

    def __init__(self, name: str, args: KubeDataVolumeArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{TYPE_PREFIX}KubeDataVolume", name, {"storageClass": args.storage_class}, opts)
        self.claim = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-claim",
            metadata={"name": DATA_VOLUME, "namespace": args.namespace, "labels": labels(args.site, "data")},
            spec={"accessModes": ["ReadWriteMany"], "storageClassName": args.storage_class,
                  "resources": {"requests": {"storage": f"{args.storage_gb}Gi"}}},
            # The data outlives the stack; and a change of class or size is never a replacement.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True, protect=False,
                                        ignore_changes=["spec.storageClassName"]),
        )
        self.scripts = k8s.core.v1.ConfigMap(
            f"{name}-scripts",
            metadata={"name": SCRIPTS, "namespace": args.namespace, "labels": labels(args.site, "scripts")},
            data={key: script(f) for key, f in SCRIPT_FILES.items()},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})
