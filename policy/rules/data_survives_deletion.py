"""The MySQL data, the DICOM storage and the shared-persist folders survive destroy and replacement.

Each platform's adapter says which mounts are on the site's data storage: on Docker a host bind
mount under o3:site.storagePath, which no container, image or network deletion removes; on
Kubernetes a PersistentVolumeClaim (the program retains them, and the namespace, on destroy). The
engine does not show policies `retainOnDelete` (pulumi-policy 1.21's PolicyResourceOptions has no
such field), so the rule checks the substance: data mount points are on that storage, no
container removes its volumes, every volume the platform would delete is `protect`ed, and no
command that touches the storage path has a delete step.
"""

from typing import Any

from pulumi_policy import EnforcementLevel

from sitespec.facts import SiteFacts
from sitespec.guide import DATA_MOUNTS

from ._rule import Report, Rule

REMEDIATION = ("keep the data on the site's data storage: on Docker, bind-mount a folder under "
               "o3:site.storagePath; on Kubernetes, mount the site's data volume (o3-data) or the db's claim.")


def check(site: SiteFacts, report: Report, cfg: dict[str, Any]) -> None:
    for w in site.workloads:
        if w.removes_volumes:
            report(f"{w.title} has remove_volumes: its volumes would be deleted with it.", w.urn)
        for c in w.containers:
            for m in c.mounts:
                if m.path in DATA_MOUNTS and not m.durable:
                    report(f"{w.title}: {m.path} {m.where}: {m.risk}. Fix: {REMEDIATION}", w.urn)
    for v in site.volumes:
        if not v.protected:
            report(f"{v.title} is not protected: `pulumi destroy` would delete it and its data. "
                   "Fix: protect=True, or keep the data in a bind mount.", v.urn)
    storage = site.record.storage_path if site.record else None
    for cmd in site.commands:
        if storage and storage in cmd.text and cmd.deletes:
            report(f"command '{cmd.name}' touches {storage} and has a delete step: it could remove site data "
                   "on destroy or replacement. Fix: drop the delete step.", cmd.urn)


RULE = Rule(
    name="o3-data-survives-deletion",
    enforcement=EnforcementLevel.MANDATORY,
    description="Site data (MySQL, DICOM storage, shared-persist) lives where no destroy or replacement deletes it.",
    remediation=REMEDIATION,
    check=check,
)
