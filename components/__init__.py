"""The Pulumi components of one O3 site, one module per part of the vendor guide.

Only components (and their shell scripts) live here; what a site *is* lives in `sitespec`.
Below: the two small helpers every component shares.
"""

from __future__ import annotations

from typing import Mapping, Optional

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
