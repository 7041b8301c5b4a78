"""Small helpers shared by the components."""

from __future__ import annotations

from typing import Mapping, Optional
from urllib.parse import urlparse

import pulumi

TYPE_PREFIX = "o3:index:"


def env_list(env: Mapping[str, pulumi.Input[str]]) -> pulumi.Output[list[str]]:
    """Docker's ["K=V", ...] form, sorted so a reordering never shows as a diff."""
    names = sorted(env)
    return pulumi.Output.all(*[env[n] for n in names]).apply(
        lambda values: [f"{n}={v}" for n, v in zip(names, values)]
    )


def docker_cli_env(docker_host: Optional[str]) -> dict[str, str]:
    """Environment that points a `docker` CLI at the same daemon as the provider (local or ssh://)."""
    return {"DOCKER_HOST": docker_host} if docker_host else {}


def host_name(docker_host: Optional[str]) -> str:
    """Host users reach the site on: the Docker host's name, or localhost for a local daemon."""
    if docker_host and docker_host.startswith(("ssh://", "tcp://")):
        return urlparse(docker_host).hostname or "localhost"
    return "localhost"
