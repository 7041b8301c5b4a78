"""The guide's `docker exec db mysql -e "create schema ..."` step, made safe to repeat.

Runs after the `db` container is healthy, on the same Docker host (DOCKER_HOST is passed for
ssh:// sites). Uses CREATE SCHEMA IF NOT EXISTS, retries while MySQL is still starting and
fails with a clear message. The password travels in the command's environment, which is a
Pulumi secret, and output logging is off so nothing it prints reaches the console or state logs.
"""

from __future__ import annotations

from typing import Optional, Sequence

import pulumi
import pulumi_command as command
import pulumi_docker as docker

from sitespec.guide import DB_CONTAINER, SCHEMAS

from . import SSH_PRELUDE, TYPE_PREFIX, docker_cli_env, script

SCRIPT = SSH_PRELUDE + script("create-schemas.sh")
RETRY_DELAY_SECONDS = 2


class Schemas(pulumi.ComponentResource):
    """Creates `public_pacs` and `public_view` (if missing) every time the `db` container is (re)created."""

    command: command.local.Command

    def __init__(
        self,
        name: str,
        db: docker.Container,
        password: pulumi.Output[str],
        retries: int,
        docker_host: Optional[str],
        ssh_opts: Sequence[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(f"{TYPE_PREFIX}Schemas", name, {"schemas": list(SCHEMAS)}, opts)
        self.command = command.local.Command(
            f"{name}-create",
            create=SCRIPT,
            interpreter=["/bin/sh", "-c"],
            environment={
                **docker_cli_env(docker_host, ssh_opts),
                "O3_DB_CONTAINER": DB_CONTAINER,
                "O3_SCHEMAS": " ".join(SCHEMAS),
                "O3_RETRIES": str(retries),
                "O3_RETRY_DELAY": str(RETRY_DELAY_SECONDS),
                "MYSQL_PWD": password,
            },
            logging=command.local.Logging.NONE,
            # A new db container (upgrade, config change) re-runs the idempotent step.
            triggers=[db.id],
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[db], additional_secret_outputs=["environment", "stdout", "stderr"]
            ),
        )
        self.register_outputs({})
