"""The guide's `db` service: MySQL with the guide's flags, ulimits, healthcheck timing and data folder.

Better than the guide:
- the root password reaches MySQL as a file (MYSQL_ROOT_PASSWORD_FILE), not as an env value
  that `docker inspect` prints, and the healthcheck carries no password at all;
- port 3306 is not published unless `o3:database.publish` asks for it;
- MySQL gets `stopGraceSeconds` to shut down cleanly instead of being killed.
"""

from __future__ import annotations

from typing import Mapping, Optional

import pulumi
import pulumi_docker as docker

from sitespec.config import DatabaseSettings
from sitespec.config import LogSettings
from sitespec.guide import DB_CONTAINER, DB_PASSWORD_FILE, MOUNTS, MYSQL_PORT

from . import TYPE_PREFIX, env_list, site_container

# The guide's timing (interval 2s, timeout 10s, retries 5), written as Go durations the
# provider reads back unchanged. The test only asks "is mysqld serving TCP?": mysqladmin ping
# exits 0 even on "access denied", so no credential is needed. During first-start init the
# image runs a temporary server without networking, so TCP only answers once MySQL is final.
HEALTHCHECK = docker.ContainerHealthcheckArgs(
    tests=["CMD", "mysqladmin", "ping", "-h", "127.0.0.1", "--protocol=tcp", "--silent"],
    interval="2s",
    timeout="10s",
    retries=5,
)


class Database(pulumi.ComponentResource):
    """The `db` container, healthy before `pulumi up` moves on."""

    container: docker.Container

    def __init__(
        self,
        name: str,
        cfg: DatabaseSettings,
        image_id: pulumi.Input[str],
        password: pulumi.Output[str],
        timezone: str,
        folders: Mapping[str, str],
        network_name: pulumi.Input[str],
        extra_env: Mapping[str, str],
        labels: Mapping[str, str],
        logs: LogSettings,
        provider: docker.Provider,
        depends_on: Optional[list[pulumi.Resource]] = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(f"{TYPE_PREFIX}Database", name, {"publish": cfg.publish}, opts)
        ports = None
        if cfg.publish_ip is not None:
            ports = [docker.ContainerPortArgs(internal=MYSQL_PORT, external=cfg.port, ip=cfg.publish_ip)]
        u = cfg.ulimits
        self.container = docker.Container(
            f"{name}-container",
            name=DB_CONTAINER,
            image=image_id,
            command=["mysqld", *cfg.mysqld_flags],
            envs=env_list({**extra_env, "TZ": timezone, "MYSQL_ROOT_PASSWORD_FILE": DB_PASSWORD_FILE}),
            uploads=[docker.ContainerUploadArgs(file=DB_PASSWORD_FILE, content=password, permissions="0444")],
            volumes=[
                docker.ContainerVolumeArgs(host_path=folders[role], container_path=path, read_only=False)
                for role, path in MOUNTS[DB_CONTAINER]
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
            **site_container(network_name, labels, logs),
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=provider,
                depends_on=depends_on,
                # Fixed name and port: the old container must go first. The provider never
                # updates a healthcheck in place, so a change must replace.
                delete_before_replace=True,
                replace_on_changes=["healthcheck"],
                additional_secret_outputs=["uploads"],
            ),
        )
        self.register_outputs({"name": self.container.name})
