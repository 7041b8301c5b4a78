"""Dumps on Kubernetes, by the site's one dump script (components/scripts/maintenance.sh, through
kube-dump.sh), into `backups` on the data volume, with the same names and retention as on Docker:

- before any image changes, a Job (its name follows the image references, so every change makes
  one) dumps both schemas; the db and the apps wait for it, and a failed dump stops the upgrade;
- every night at o3:backup.schedule in the site's time zone, the CronJob `o3-maintenance` dumps,
  writes the status ops.verify reads, and prunes old dumps and old log files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from sitespec.config import BackupSettings, ImageRefs, LogSettings
from sitespec.guide import BACKUPS_MOUNT, DB_PASSWORD_FILE, FOLDERS, MAINTENANCE_CONTAINER, script_env
from sitespec.imageref import version_of

from .. import TYPE_PREFIX
from . import DATA_VOLUME, SCRIPTS, SCRIPTS_MOUNT, data_volume, env, labels, pull_secrets, secret_env
from .secrets import PASSWORD_KEY


@dataclass(frozen=True)
class DumpsArgs:
    """What the pre-upgrade Job and the nightly CronJob are made from."""

    site: str
    """o3:site.name: the dumps' first line, and the objects' labels."""
    namespace: pulumi.Input[str]
    """The site's namespace."""
    timezone: str
    """o3:site.timezone: the CronJob's schedule is in site time."""
    images: ImageRefs
    """o3:images: the Job's name follows them; the db image runs the dumps."""
    backup: BackupSettings
    """o3:backup: pre-upgrade dumps kept (retain), the nightly time (schedule) and days kept (retainDays)."""
    logs: LogSettings
    """o3:logs: log files older than retainDays are pruned."""
    with_pull_secret: bool
    """Whether the pods pull with the site's pull Secret."""
    depends_on: Sequence[pulumi.Resource]
    """What the dumps need: the Secret, the data volume and the scripts."""


def _mounts(logs: bool) -> list[dict]:
    mounts = [{"name": SCRIPTS, "mountPath": SCRIPTS_MOUNT, "readOnly": True},
              {"name": DATA_VOLUME, "mountPath": BACKUPS_MOUNT, "subPath": FOLDERS["backups"]}]
    if logs:
        mounts += [{"name": DATA_VOLUME, "mountPath": "/logs/pacs", "subPath": FOLDERS["pacsLog"]},
                   {"name": DATA_VOLUME, "mountPath": "/logs/view", "subPath": FOLDERS["viewLog"]}]
    return mounts


class Dumps(pulumi.ComponentResource):
    """The pre-upgrade dump Job (`job`, what the db and the apps wait for) and the nightly CronJob."""

    job: k8s.batch.v1.Job

    def __init__(self, name: str, args: DumpsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{TYPE_PREFIX}KubeDumps", name, {}, opts)
        names = {**script_env(args.site), "O3_PASSWORD_FILE": DB_PASSWORD_FILE}
        pod = {
            "restartPolicy": "Never",
            "imagePullSecrets": pull_secrets(args.with_pull_secret),
            "volumes": [{"name": SCRIPTS, "configMap": {"name": SCRIPTS}}, data_volume()],
        }
        i = args.images
        to = "_to_" + "_".join(f"{c}-{version_of(ref)}" for c, ref in (("db", i.db), ("pacs", i.pacs), ("view", i.view)))
        self.job = k8s.batch.v1.Job(
            f"{name}-pre-upgrade",
            metadata={"namespace": args.namespace, "labels": labels(args.site, "backup"),
                      "annotations": {"o3.images": " ".join((i.db, i.pacs, i.view))}},
            spec={"backoffLimit": 0, "template": {"metadata": {"labels": labels(args.site, "backup")}, "spec": {
                **pod,
                "containers": [{
                    "name": "dump",
                    "image": i.db,
                    "command": ["sh", f"{SCRIPTS_MOUNT}/kube-dump.sh", "backup", to, str(args.backup.retain)],
                    "env": env(names) + [secret_env("MYSQL_PWD", PASSWORD_KEY)],
                    "volumeMounts": _mounts(logs=False),
                }],
            }}},
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        hh, mm = args.backup.schedule.split(":")
        k8s.batch.v1.CronJob(
            f"{name}-nightly",
            metadata={"name": MAINTENANCE_CONTAINER, "namespace": args.namespace, "labels": labels(args.site, "maintenance")},
            spec={
                "schedule": f"{int(mm)} {int(hh)} * * *",
                "timeZone": args.timezone,
                "concurrencyPolicy": "Forbid",
                # A controller that was down at the scheduled time catches up within 6 h.
                "startingDeadlineSeconds": 6 * 3600,
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {"spec": {"backoffLimit": 0, "template": {
                    "metadata": {"labels": labels(args.site, "maintenance")},
                    "spec": {**pod, "containers": [{
                        "name": "nightly",
                        "image": i.db,
                        "command": ["sh", f"{SCRIPTS_MOUNT}/kube-dump.sh", "nightly"],
                        "env": env({**names, "O3_RETAIN_DAYS": str(args.backup.retain_days),
                                    "O3_LOG_RETAIN_DAYS": str(args.logs.retain_days), "TZ": args.timezone})
                        + [secret_env("MYSQL_PWD", PASSWORD_KEY)],
                        "volumeMounts": _mounts(logs=True),
                    }]},
                }}},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        self.register_outputs({})
