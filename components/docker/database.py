"""The guide's `db` service: MySQL with the guide's flags, ulimits, healthcheck timing and data folder.

Better than the guide:
- the root password reaches MySQL as a file (MYSQL_ROOT_PASSWORD_FILE), not as an env value
  that `docker inspect` prints, and the healthcheck carries no password at all;
- port 3306 is not published unless `o3:database.publish` asks for it;
- MySQL gets `stopGraceSeconds` to shut down cleanly instead of being killed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_docker as docker

from sitespec.config import DatabaseSettings
from sitespec.config import LogSettings
from sitespec.containers import DB, DB_PROBE
from sitespec.guide import DB_PASSWORD_FILE, MYSQL_PORT

from .. import TYPE_PREFIX
from . import env_list, site_container

# The guide's healthcheck (sitespec.containers.DB_PROBE), its timing written as Go durations the
# provider reads back unchanged.
HEALTHCHECK = docker.ContainerHealthcheckArgs(
    tests=["CMD", *DB_PROBE.command],
    interval=f"{DB_PROBE.interval_seconds}s",
    timeout=f"{DB_PROBE.timeout_seconds}s",
    retries=DB_PROBE.retries,
)


@dataclass(frozen=True)
class DatabaseArgs:
    """What the `db` container is made from."""

    settings: DatabaseSettings
    """o3:database: publishing of 3306, mysqld flags, ulimits, the health wait and stop grace (seconds)."""
    folders: Mapping[str, str]
    """Absolute host path of each storage folder role (StorageFolders.paths)."""
    image_id: pulumi.Input[str]
    """Id of the pulled MySQL image."""
    password: pulumi.Output[str]
    """The MySQL root password (a secret), uploaded as a file MySQL reads on first start."""
    timezone: str
    """o3:site.timezone, an IANA zone (e.g. Europe/Rome), given to the container as TZ."""
    network_name: pulumi.Input[str]
    """Name of the site's network (o3net)."""
    extra_env: Mapping[str, str]
    """o3:extraEnv.db: more environment variables for the container."""
    labels: Mapping[str, str]
    """Docker labels of the container (o3.site, o3.managed-by, o3.image)."""
    logs: LogSettings
    """o3:logs: the size (MB) and number of Docker's own log files of the container."""
    provider: docker.Provider
    """The site's Docker provider (RegistryLogin.provider)."""
    depends_on: Sequence[pulumi.Resource]
    """What the container waits for: the storage folders and the pre-upgrade dump."""


class Database(pulumi.ComponentResource):
    """The `db` container, healthy before `pulumi up` moves on."""

    container: docker.Container

    def __init__(self, name: str, args: DatabaseArgs, opts: Optional[pulumi.ResourceOptions] = None):
        cfg = args.settings
        super().__init__(f"{TYPE_PREFIX}Database", name, {"publish": cfg.publish}, opts)
        ports = None
        if cfg.publish_ip is not None:
            ports = [docker.ContainerPortArgs(internal=MYSQL_PORT, external=cfg.port, ip=cfg.publish_ip)]
        u = cfg.ulimits
        self.container = docker.Container(
            f"{name}-container",
            name=DB.name,
            image=args.image_id,
            command=["mysqld", *cfg.mysqld_flags],
            envs=env_list(DB.literal_env(args.timezone, args.extra_env)),
            uploads=[docker.ContainerUploadArgs(file=DB_PASSWORD_FILE, content=args.password, permissions="0444")],
            volumes=[
                docker.ContainerVolumeArgs(host_path=args.folders[role], container_path=path, read_only=False)
                for role, path in DB.mounts
            ],
            ulimits=[
                docker.ContainerUlimitArgs(name="nproc", soft=u.nproc, hard=u.nproc),
                docker.ContainerUlimitArgs(name="nofile", soft=u.nofile_soft, hard=u.nofile_hard),
            ],
            ports=ports,
            healthcheck=HEALTHCHECK,
            # Create returns only once the healthcheck passes: the compose file's service_healthy.
            wait=True,
            wait_timeout=cfg.wait_timeout_seconds,
            destroy_grace_seconds=cfg.stop_grace_seconds,
            **site_container(args.network_name, args.labels, args.logs),
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.provider,
                depends_on=list(args.depends_on),
                # Fixed name and port: the old container must go first. The provider never
                # updates a healthcheck in place, so a change must replace.
                delete_before_replace=True,
                replace_on_changes=["healthcheck"],
                additional_secret_outputs=["uploads"],
            ),
        )
        self.register_outputs({"name": self.container.name})
