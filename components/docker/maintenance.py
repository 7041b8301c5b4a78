"""Not in the vendor guide: the site's maintenance container, `o3-maintenance`.

It runs on the db image (which has mysqldump, mysql, gzip and find) and, every day at
`o3:backup.schedule` in the site's time zone, dumps both schemas to `<storagePath>/backups`
the same way as the pre-upgrade backup (one transaction, compressed, written under a temporary
name and renamed), removes nightly dumps older than `o3:backup.retainDays` and files in the pacs
and view log folders older than `o3:logs.retainDays`. With `o3:offsite` it also hands a dump to
`o3-offsite` every day at `o3:offsite.schedule` (components/scripts/offsite-dump.sh, its entrypoint
then, runs maintenance.sh's loop beside). It mounts nothing else, so it can remove
nothing else. `python -m ops.backup` and `ops.restore` run their dump and restore in it too.
The root password is a secret file uploaded into it, never an environment value.
"""

from __future__ import annotations

import base64
import importlib.resources
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_docker as docker

from sitespec import offsite
from sitespec.config import BackupSettings, LogSettings
from sitespec.guide import BACKUPS_MOUNT, DB_PASSWORD_FILE, MAINTENANCE_CONTAINER, MAINTENANCE_SCRIPT, script_env

from .. import MAINTENANCE_SH, TYPE_PREFIX, script
from . import env_list, site_container

OFFSITE_DUMP_SH = script("offsite-dump.sh")


def zoneinfo_base64(zone: str) -> str:
    """The TZif file of an IANA zone (from the pinned tzdata package), so `date` in the
    container speaks site time whatever the image ships."""
    data = importlib.resources.files("tzdata.zoneinfo").joinpath(*zone.split("/")).read_bytes()
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class MaintenanceArgs:
    """What the maintenance container is made from."""

    site: str
    """o3:site.name, written as the first line of each dump (a restore checks it)."""
    timezone: str
    """o3:site.timezone, an IANA zone (e.g. Europe/Rome): the schedule is in site time."""
    backup: BackupSettings
    """o3:backup: the nightly schedule (HH:MM, site time) and how long to keep nightly dumps (days)."""
    offsite_schedule: Optional[str]
    """o3:offsite's time (HH:MM, site time) to hand a dump to o3-offsite; None without o3:offsite."""
    logs: LogSettings
    """o3:logs: how long to keep the apps' log files (days), and the bounds of Docker's own log."""
    image_id: pulumi.Input[str]
    """Id of the pulled db image, which has mysqldump, mysql, gzip and find."""
    password: pulumi.Output[str]
    """The MySQL root password (a secret), uploaded as a file."""
    folders: Mapping[str, str]
    """Absolute host path of each storage folder role; it mounts backups, pacsLog and viewLog."""
    network_name: pulumi.Input[str]
    """Name of the site's network (o3net), where it reaches `db`."""
    labels: Mapping[str, str]
    """Docker labels of the container (o3.site, o3.managed-by, o3.image)."""
    provider: docker.Provider
    """The site's Docker provider (RegistryLogin.provider)."""
    depends_on: Sequence[pulumi.Resource]
    """What the container waits for: the schema step."""


class Maintenance(pulumi.ComponentResource):
    """Nightly dumps and log pruning on the site's own host."""

    container: docker.Container

    def __init__(self, name: str, args: MaintenanceArgs, opts: Optional[pulumi.ResourceOptions] = None):
        b = args.backup
        super().__init__(f"{TYPE_PREFIX}Maintenance", name, {"schedule": b.schedule}, opts)
        env = {
            **script_env(args.site),
            "O3_SCHEDULE": b.schedule,
            "O3_RETAIN_DAYS": str(b.retain_days),
            "O3_LOG_RETAIN_DAYS": str(args.logs.retain_days),
        }
        entrypoint = MAINTENANCE_SCRIPT
        uploads = []
        if args.offsite_schedule:  # o3:offsite: its own script runs maintenance.sh's loop and the copies
            entrypoint = offsite.DUMP_SCRIPT
            env.update(O3_OFFSITE_SCHEDULE=args.offsite_schedule, O3_MAINTENANCE_SCRIPT=MAINTENANCE_SCRIPT,
                       O3_OFFSITE_EXCHANGE=offsite.EXCHANGE, O3_OFFSITE_DAY_FILE=offsite.DAY_FILE)
            uploads.append(docker.ContainerUploadArgs(file=offsite.DUMP_SCRIPT, content=OFFSITE_DUMP_SH, permissions="0555"))
        self.container = docker.Container(
            f"{name}-container",
            name=MAINTENANCE_CONTAINER,
            image=args.image_id,
            entrypoints=["/bin/sh", entrypoint],
            command=["loop"],
            envs=env_list(env),
            uploads=[
                docker.ContainerUploadArgs(file=MAINTENANCE_SCRIPT, content=MAINTENANCE_SH, permissions="0555"),
                docker.ContainerUploadArgs(file=DB_PASSWORD_FILE, content=args.password, permissions="0400"),
                docker.ContainerUploadArgs(file="/etc/localtime", content_base64=zoneinfo_base64(args.timezone),
                                           permissions="0444"),
                *uploads,
            ],
            volumes=[
                docker.ContainerVolumeArgs(host_path=args.folders["backups"], container_path=BACKUPS_MOUNT, read_only=False),
                docker.ContainerVolumeArgs(host_path=args.folders["pacsLog"], container_path="/logs/pacs", read_only=False),
                docker.ContainerVolumeArgs(host_path=args.folders["viewLog"], container_path="/logs/view", read_only=False),
            ],
            destroy_grace_seconds=10,
            **site_container(args.network_name, args.labels, args.logs),
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.provider,
                depends_on=list(args.depends_on),
                delete_before_replace=True,  # fixed name
                additional_secret_outputs=["uploads"],
            ),
        )
        self.register_outputs({})
