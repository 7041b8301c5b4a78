"""Not in the vendor guide: the off-host copies (o3:offsite) on Kubernetes, the CronJob `o3-offsite`.

The same image (o3:images.restic), script (components/scripts/offsite-backup.sh) and repository
layout as on Docker: each night at o3:offsite.schedule one pod runs two containers side by side,
`dump` on the db image (offsite-dump.sh dump: mysqldump into a FIFO on an emptyDir) and
`restic` (offsite-backup.sh job nightly: the dump read from that FIFO with --stdin-from-command,
then the DICOM storage and shared-persist folders of the data volume, mounted read-only). The
site's secrets are a Secret `o3-offsite` mounted as files (0400), never environment values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from sitespec import offsite
from sitespec.config import SiteConfig
from sitespec.guide import BACKUPS_MOUNT, FOLDERS

from .. import TYPE_PREFIX, script
from . import DATA_VOLUME, KubePartArgs, env, labels
from .backup import PreUpgradeOffsite, dump_env, dump_mounts, dump_pod
from .hardening import OFFSITE_ROLE, container_security, db_client

SECRET = "o3-offsite"
SCRIPT_MAP = "o3-offsite-scripts"
EXCHANGE = "/o3/exchange"  # the pod's emptyDir: the FIFO between the two containers
# The whole run's bound (a night's storage increment included), and what each container asks for.
DEADLINE_SECONDS = 6 * 3600
REQUESTS = {"dump": {"cpu": "100m", "memory": "128Mi"}, "restic": {"cpu": "250m", "memory": "512Mi"}}


@dataclass(frozen=True)
class KubeOffsiteArgs(KubePartArgs):
    """What the off-host CronJob is made from."""

    config: SiteConfig
    """The site's config: o3:offsite, o3:images (db, restic), o3:backup.schedule, o3:site.timezone."""
    secrets: Mapping[str, pulumi.Output[str]]
    """The site's own secrets by key (offsitePassword, offsiteHttpPassword, offsiteSshKey)."""
    with_pull_secret: bool
    """Whether the pods pull with the site's pull Secret."""
    depends_on: Sequence[pulumi.Resource]
    """What the CronJob needs: the db Secret, the data volume and the scripts."""


class KubeOffsite(pulumi.ComponentResource):
    """The Secret, the script and the CronJob `o3-offsite`; `pre_upgrade`, what the pre-upgrade
    Job adds to send its dump off-host."""

    cron_job: k8s.batch.v1.CronJob
    pre_upgrade: PreUpgradeOffsite

    def __init__(self, name: str, args: KubeOffsiteArgs, opts: Optional[pulumi.ResourceOptions] = None):
        cfg = args.config
        o = cfg.offsite
        assert o is not None
        super().__init__(f"{TYPE_PREFIX}KubeOffsite", name, {"repository": o.repository}, opts)
        child = pulumi.ResourceOptions(parent=self)
        files: dict[str, pulumi.Input[str]] = {
            offsite.SECRET_FILES[k]: v.apply(lambda x, k=k: offsite.file_content(k, x)) for k, v in sorted(args.secrets.items())}
        if o.known_hosts:
            files[offsite.KNOWN_HOSTS_FILE] = o.known_hosts.rstrip("\n") + "\n"
        if o.ca_cert:
            files[offsite.CA_FILE] = o.ca_cert
        secret = k8s.core.v1.Secret(
            f"{name}-secret", metadata={"name": SECRET, "namespace": args.namespace, "labels": labels(args.site, OFFSITE_ROLE)},
            string_data=files, opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["stringData", "data"]))
        script_map = k8s.core.v1.ConfigMap(
            f"{name}-script", metadata={"name": SCRIPT_MAP, "namespace": args.namespace, "labels": labels(args.site, OFFSITE_ROLE)},
            data={f: script(f) for f in ("offsite-backup.sh", "offsite-dump.sh")}, opts=child)
        hh, mm = o.schedule_after(cfg.backup.schedule).split(":")
        exchange = {"name": "exchange", "mountPath": EXCHANGE}
        scripts = {"name": SCRIPT_MAP, "mountPath": offsite.KUBE_SCRIPTS, "readOnly": True}
        restic_env = {**offsite.script_env(cfg), "O3_OFFSITE_EXCHANGE": EXCHANGE, "TZ": cfg.site.timezone}
        storage = [{"name": DATA_VOLUME, "mountPath": path, "subPath": FOLDERS[role], "readOnly": True}
                   for role, path in sorted(offsite.STORAGE_PATHS.items())]
        volumes = [
            {"name": "exchange", "emptyDir": {}},
            {"name": SECRET, "secret": {"secretName": SECRET, "defaultMode": 0o400}},
            {"name": SCRIPT_MAP, "configMap": {"name": SCRIPT_MAP}},
        ]

        def restic(command: list[str], mounts: list[dict]) -> dict:
            return {
                "name": "restic",
                "image": cfg.images.restic,
                "command": command,
                "env": env(restic_env),
                "volumeMounts": [
                    *mounts,
                    {"name": DATA_VOLUME, "mountPath": BACKUPS_MOUNT, "subPath": FOLDERS["backups"]},
                    exchange,
                    {"name": SECRET, "mountPath": offsite.SECRETS_DIR, "readOnly": True},
                    scripts,
                ],
                "resources": {"requests": REQUESTS["restic"]},
                "securityContext": container_security("restic"),
            }

        # The pre-upgrade Job's off-host copy: the file its dump names, sent before the Job ends.
        named = f"{EXCHANGE}/{PreUpgradeOffsite.NAME_FILE}"
        self.pre_upgrade = PreUpgradeOffsite(
            container=restic(["/bin/sh", "-c", f'f=$(cat {named} 2>/dev/null || true); if [ -z "$f" ]; then '
                              'echo "o3-offsite: no pre-upgrade dump (the site does not run yet): nothing to copy"; '
                              f'exit 0; fi; exec /bin/sh {offsite.KUBE_SCRIPTS}/offsite-backup.sh file "$f" pre-upgrade'],
                             []),
            volumes=volumes, depends_on=[secret, script_map], exchange=exchange)
        pod = dump_pod(args.with_pull_secret)
        pod["volumes"] = pod["volumes"] + volumes
        self.cron_job = k8s.batch.v1.CronJob(
            f"{name}-nightly",
            metadata={"name": offsite.CONTAINER, "namespace": args.namespace, "labels": labels(args.site, OFFSITE_ROLE)},
            spec={
                "schedule": f"{int(mm)} {int(hh)} * * *",
                "timeZone": cfg.site.timezone,
                "concurrencyPolicy": "Forbid",
                "startingDeadlineSeconds": 6 * 3600,
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {"spec": {"backoffLimit": 0, "activeDeadlineSeconds": DEADLINE_SECONDS, "template": {
                    "metadata": {"labels": db_client(labels(args.site, OFFSITE_ROLE))},
                    "spec": {**pod, "containers": [
                        {
                            "name": "dump",
                            "image": cfg.images.db,
                            "command": ["sh", f"{offsite.KUBE_SCRIPTS}/offsite-dump.sh", "dump"],
                            "env": dump_env(args.site, {"O3_OFFSITE_EXCHANGE": EXCHANGE, "TZ": cfg.site.timezone}),
                            "volumeMounts": [*dump_mounts(logs=False), exchange, scripts],
                            "resources": {"requests": REQUESTS["dump"]},
                            "securityContext": container_security("dump"),
                        },
                        restic(["/bin/sh", f"{offsite.KUBE_SCRIPTS}/offsite-backup.sh", "job", "nightly"], storage),
                    ]},
                }}},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, secret, script_map]),
        )
        self.register_outputs({})



