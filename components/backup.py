"""Pre-upgrade backup: before any image version changes, dump both schemas.

A logical dump of the running `db` (mysqldump --single-transaction), by the site's one dump
script (`components/scripts/maintenance.sh`) in a short-lived container on the db image and the
site's network, so ssh:// hosts work too; written gzip-compressed to `<storagePath>/backups`, named with the old and new versions and a UTC
timestamp; the oldest beyond `o3:backup.retain` are removed. The command is replaced, and so
runs, whenever an image reference changes; every container depends on it, so when the dump
fails nothing is replaced. It never deletes anything on `destroy`.
"""

from __future__ import annotations

from typing import Optional, Sequence

import pulumi
import pulumi_command as command

from sitespec.config import ImageRefs
from sitespec.guide import BACKUP_FOLDER, DB_CONTAINER, script_env
from sitespec.imageref import version_of

from . import MAINTENANCE_SH, SSH_PRELUDE, TYPE_PREFIX, docker_cli_env, script

SCRIPT = SSH_PRELUDE + script("pre-upgrade-backup.sh")


class PreUpgradeBackup(pulumi.ComponentResource):
    """Dumps public_pacs and public_view before the images change."""

    command: command.local.Command

    def __init__(
        self,
        name: str,
        site: str,
        images: ImageRefs,
        storage_path: str,
        helper_image: pulumi.Input[str],
        network_name: pulumi.Input[str],
        password: pulumi.Output[str],
        retain: int,
        docker_host: Optional[str],
        ssh_opts: Sequence[str],
        depends_on: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(f"{TYPE_PREFIX}PreUpgradeBackup", name, {"retain": retain}, opts)
        self.folder = f"{storage_path}/{BACKUP_FOLDER}"
        refs = {"db": images.db, "pacs": images.pacs, "view": images.view}
        self.command = command.local.Command(
            f"{name}-dump",
            create=SCRIPT,
            # Other input changes (retention, password) need no dump: replacing does.
            update="echo 'o3 backup: settings changed; no image changed, so no dump'",
            interpreter=["/bin/bash", "-c"],
            environment={
                **docker_cli_env(docker_host, ssh_opts),
                **script_env(site),
                "O3_DB_CONTAINER": DB_CONTAINER,
                "O3_NETWORK": network_name,
                "O3_BACKUP_DIR": self.folder,
                "O3_HELPER_IMAGE": helper_image,
                "O3_MAINTENANCE_SH": MAINTENANCE_SH,
                "O3_RETAIN": str(retain),
                "O3_NEW_VERSIONS": " ".join(f"{k}={version_of(v)}" for k, v in refs.items()),
                "MYSQL_PWD": password,
            },
            logging=command.local.Logging.NONE,
            # Any image change replaces the command, which runs the dump before the containers change.
            triggers=list(refs.values()),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=depends_on,
                additional_secret_outputs=["environment", "stdout", "stderr"],
            ),
        )
        self.register_outputs({"folder": self.folder})
