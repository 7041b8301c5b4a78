"""Not in the vendor guide: the site's nightly maintenance on Kubernetes, the CronJob
`o3-maintenance`. Every night at o3:backup.schedule in the site's time zone it dumps both schemas
(the same dump pod as the pre-upgrade Job, backup.py), writes the status ops.verify reads, and
prunes dumps older than o3:backup.retainDays and log files older than o3:logs.retainDays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from sitespec.config import BackupSettings, LogSettings
from sitespec.guide import MAINTENANCE_CONTAINER

from .. import TYPE_PREFIX
from . import KubePartArgs, SCRIPTS_MOUNT, labels
from .backup import dump_env, dump_mounts, dump_pod
from .hardening import NIGHTLY_DEADLINE_SECONDS, db_client, job_container


@dataclass(frozen=True)
class KubeMaintenanceArgs(KubePartArgs):
    """What the nightly CronJob is made from."""

    timezone: str
    """o3:site.timezone: the schedule is in site time."""
    image: str
    """The db image (o3:images.db), which has mysqldump, mysql, gzip and find."""
    backup: BackupSettings
    """o3:backup: the nightly time (schedule) and the days nightly dumps are kept (retainDays)."""
    logs: LogSettings
    """o3:logs: log files older than retainDays are pruned."""
    with_pull_secret: bool
    """Whether the pods pull with the site's pull Secret."""
    depends_on: Sequence[pulumi.Resource]
    """What the CronJob needs: the Secret, the data volume and the scripts."""
    moved_from: Optional[pulumi.Alias] = None
    """The CronJob's resource before it moved here (until release df2d194 a child of
    o3:index:KubeDumps): its alias, so a deployed site keeps its CronJob."""


class KubeMaintenance(pulumi.ComponentResource):
    """The CronJob `o3-maintenance`."""

    cron_job: k8s.batch.v1.CronJob

    def __init__(self, name: str, args: KubeMaintenanceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        b = args.backup
        super().__init__(f"{TYPE_PREFIX}KubeMaintenance", name, {"schedule": b.schedule}, opts)
        hh, mm = b.schedule.split(":")
        self.cron_job = k8s.batch.v1.CronJob(
            f"{name}-nightly",
            metadata={"name": MAINTENANCE_CONTAINER, "namespace": args.namespace,
                      "labels": labels(args.site, "maintenance")},
            spec={
                "schedule": f"{int(mm)} {int(hh)} * * *",
                "timeZone": args.timezone,
                "concurrencyPolicy": "Forbid",
                # A controller that was down at the scheduled time catches up within 6 h.
                "startingDeadlineSeconds": 6 * 3600,
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {"spec": {"backoffLimit": 0, "activeDeadlineSeconds": NIGHTLY_DEADLINE_SECONDS, "template": {
                    "metadata": {"labels": db_client(labels(args.site, "maintenance"))},
                    "spec": {**dump_pod(args.with_pull_secret), "containers": [{
                        "name": "nightly",
                        "image": args.image,
                        "command": ["sh", f"{SCRIPTS_MOUNT}/kube-dump.sh", "nightly"],
                        "env": dump_env(args.site, {"O3_RETAIN_DAYS": str(b.retain_days),
                                                    "O3_LOG_RETAIN_DAYS": str(args.logs.retain_days),
                                                    "TZ": args.timezone}),
                        "volumeMounts": dump_mounts(logs=True),
                        **job_container("nightly"),
                    }]},
                }}},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on),
                                        aliases=[args.moved_from] if args.moved_from else None),
        )
        self.register_outputs({})
