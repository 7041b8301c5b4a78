"""Pre-upgrade backup: before any image version changes, dump both schemas.

A logical dump of the running `db` (mysqldump --single-transaction), by the site's one dump
script (`components/scripts/maintenance.sh`) in a short-lived container on the db image and the
site's network, so ssh:// hosts work too; written gzip-compressed to `<storagePath>/backups`,
named with the old and new versions and a UTC timestamp; the oldest beyond `o3:backup.retain`
are removed; with o3:offsite the dump is then sent off-host by o3-offsite. The command is replaced, and so runs, whenever an image reference changes; every
container depends on it, so when the dump fails nothing is replaced. It never deletes anything on `destroy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_command as command

from sitespec import offsite
from sitespec.config import ImageRefs
from sitespec.guide import BACKUP_FOLDER, DB_CONTAINER, script_env
from sitespec.imageref import version_of

from .. import MAINTENANCE_SH, SSH_PRELUDE, TYPE_PREFIX, script
from . import docker_cli_env

SCRIPT = SSH_PRELUDE + script("pre-upgrade-backup.sh")
# With o3:offsite the dump then goes off-host (o3-offsite); appended only then, so that a site
# without it keeps its command unchanged.
OFFSITE_PART = script("pre-upgrade-offsite.sh")


@dataclass(frozen=True)
class PreUpgradeBackupArgs:
    """What to dump before an upgrade, where to, and how to reach the site's daemon."""

    site: str
    """o3:site.name, written as the first line of each dump (a restore checks it)."""
    images: ImageRefs
    """o3:images: the references about to be deployed; a change to any of them runs the dump."""
    storage_path: str
    """o3:site.storagePath: the dumps go to its backups folder."""
    helper_image: pulumi.Input[str]
    """Image of the short-lived container that runs the dump (the db image's id)."""
    network_name: pulumi.Input[str]
    """The site's network, on which that container reaches `db`."""
    password: pulumi.Output[str]
    """The MySQL root password (a secret)."""
    retain: int
    """o3:backup.retain: how many pre-upgrade dumps to keep (count, not days)."""
    offsite: bool
    """o3:offsite is set: the dump also goes off-host (through o3-offsite) before anything is replaced."""
    docker_host: Optional[str]
    """docker:host: the daemon the `db` container runs on (local socket when None, or ssh://)."""
    ssh_opts: Sequence[str]
    """docker:sshOpts: options for the ssh client when docker_host is ssh://."""
    depends_on: Sequence[pulumi.Resource]
    """What the dump waits for: the storage folders."""


class PreUpgradeBackup(pulumi.ComponentResource):
    """Dumps public_pacs and public_view before the images change."""

    command: command.local.Command

    def __init__(self, name: str, args: PreUpgradeBackupArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{TYPE_PREFIX}PreUpgradeBackup", name, {"retain": args.retain}, opts)
        self.folder = f"{args.storage_path}/{BACKUP_FOLDER}"
        refs = {"db": args.images.db, "pacs": args.images.pacs, "view": args.images.view}
        shared = script_env(args.site)
        self.command = command.local.Command(
            f"{name}-dump",
            create=SCRIPT + (OFFSITE_PART if args.offsite else ""),
            # Other input changes (retention, password) need no dump: replacing does.
            update="echo 'o3 backup: settings changed; no image changed, so no dump'",
            interpreter=["/bin/bash", "-c"],
            environment={
                **docker_cli_env(args.docker_host, args.ssh_opts),
                **shared,
                "O3_SHARED_NAMES": " ".join(shared),  # what the dump's container is given (-e NAME)
                "O3_DB_CONTAINER": DB_CONTAINER,
                "O3_NETWORK": args.network_name,
                "O3_BACKUP_DIR": self.folder,
                "O3_HELPER_IMAGE": args.helper_image,
                "O3_MAINTENANCE_SH": MAINTENANCE_SH,
                "O3_RETAIN": str(args.retain),
                "O3_NEW_VERSIONS": " ".join(f"{k}={version_of(v)}" for k, v in refs.items()),
                "MYSQL_PWD": args.password,
                **({"O3_OFFSITE_CONTAINER": offsite.CONTAINER, "O3_OFFSITE_SCRIPT": offsite.SCRIPT} if args.offsite else {}),
            },
            logging=command.local.Logging.NONE,
            # Any image change replaces the command, which runs the dump before the containers change.
            triggers=list(refs.values()),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=list(args.depends_on),
                additional_secret_outputs=["environment", "stdout", "stderr"],
            ),
        )
        self.register_outputs({"folder": self.folder})
