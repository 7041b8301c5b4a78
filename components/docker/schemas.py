"""The guide's `docker exec db mysql -e "create schema ..."` step, made safe to repeat.

Runs after the `db` container is healthy, on the same Docker host (DOCKER_HOST is passed for
ssh:// sites). Uses CREATE SCHEMA IF NOT EXISTS, retries while MySQL is still starting and
fails with a clear message. The password travels in the command's environment, which is a
Pulumi secret, and output logging is off so nothing it prints reaches the console or state logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from sitespec.guide import DB_CONTAINER, SCHEMAS

from .. import SCHEMA_SCRIPT, SSH_PRELUDE, TYPE_PREFIX, schema_env, script
from . import docker_cli_env

SCRIPT = SSH_PRELUDE + script(SCHEMA_SCRIPT)


@dataclass(frozen=True)
class SchemasArgs:
    """The `db` container to create the schemas in, and how to reach its daemon."""

    db: docker.Container
    """The `db` container: the step runs after it is healthy, and again whenever it is re-created."""
    password: pulumi.Output[str]
    """The MySQL root password (a secret)."""
    retries: int
    """o3:database.schemaRetries: attempts while MySQL is still starting, components.SCHEMA_RETRY_DELAY_SECONDS apart."""
    docker_host: Optional[str]
    """docker:host: the daemon the `db` container runs on (local socket when None, or ssh://)."""
    ssh_opts: Sequence[str]
    """docker:sshOpts: options for the ssh client when docker_host is ssh://."""


class Schemas(pulumi.ComponentResource):
    """Creates `public_pacs` and `public_view` (if missing) every time the `db` container is (re)created."""

    command: command.local.Command

    def __init__(self, name: str, args: SchemasArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{TYPE_PREFIX}Schemas", name, {"schemas": list(SCHEMAS)}, opts)
        self.command = command.local.Command(
            f"{name}-create",
            create=SCRIPT,
            interpreter=["/bin/sh", "-c"],
            environment={
                **docker_cli_env(args.docker_host, args.ssh_opts),
                "O3_DB_CONTAINER": DB_CONTAINER,
                **schema_env(args.retries),
                "MYSQL_PWD": args.password,
            },
            logging=command.local.Logging.NONE,
            # A new db container (upgrade, config change) re-runs the idempotent step.
            triggers=[args.db.id],
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[args.db], additional_secret_outputs=["environment", "stdout", "stderr"]
            ),
        )
        self.register_outputs({})
