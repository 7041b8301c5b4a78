"""The site on one Docker host: the vendor guide's compose services and `docker exec` steps as
Pulumi resources of the docker and command providers. Below: what these components share."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_docker as docker

from sitespec.config import LogSettings
from sitespec.guide import RESTART


def env_list(env: Mapping[str, pulumi.Input[str]]) -> pulumi.Output[list[str]]:
    """Docker's ["K=V", ...] form, sorted so a reordering never shows as a diff."""
    names = sorted(env)
    return pulumi.Output.all(*[env[n] for n in names]).apply(
        lambda values: [f"{n}={v}" for n, v in zip(names, values)]
    )


def docker_cli_env(docker_host: Optional[str], ssh_opts: Sequence[str] = ()) -> dict[str, str]:
    """Environment that points a `docker` CLI at the same daemon as the provider (local or ssh://);
    scripts that start with SSH_PRELUDE also reach it with docker:sshOpts."""
    env = {"DOCKER_HOST": docker_host} if docker_host else {}
    if ssh_opts:
        env["O3_SSH_OPTS"] = "\n".join(ssh_opts)
    return env


def log_limits(logs: LogSettings) -> dict[str, Any]:
    """Container arguments that bound Docker's own log of a container (o3:logs)."""
    return {"log_driver": "json-file", "log_opts": {"max-size": f"{logs.max_size_mb}m", "max-file": str(logs.max_files)}}


def published_ports(ports: Sequence[tuple[int, int, str]]) -> Optional[list[docker.ContainerPortArgs]]:
    """(internal, external, host address) triples as the provider reads them back: sorted by
    internal port, so a refresh never shows a reordering as a diff (which would replace)."""
    return [docker.ContainerPortArgs(internal=i, external=e, ip=ip) for i, e, ip in sorted(ports)] or None


def site_container(network_name: pulumi.Input[str], labels: Mapping[str, str], logs: LogSettings) -> dict[str, Any]:
    """What every container of the site shares: the guide's restart policy, o3net, its labels
    (sorted, so an order change never shows as a diff) and bounded logs."""
    return {
        "restart": RESTART,
        "networks_advanced": [docker.ContainerNetworksAdvancedArgs(name=network_name)],
        "labels": [docker.ContainerLabelArgs(label=k, value=v) for k, v in sorted(labels.items())],
        # The provider defaults to true (removing anonymous volumes on delete): say false, as the
        # data-survives-deletion rule checks what the engine really holds.
        "remove_volumes": False,
        **log_limits(logs),
    }
