"""The guide's `docker login`: a Docker provider that carries the registry key as a Pulumi secret.

Every Docker resource of the site uses this provider, so pulls authenticate without a
`docker login` on the host and without the key ever touching a command line or ~/.docker.
"""

from __future__ import annotations

from typing import Optional, Sequence

import pulumi
import pulumi_docker as docker

from sitespec.config import RegistrySettings

from . import TYPE_PREFIX


class RegistryLogin(pulumi.ComponentResource):
    """A Docker provider for the site's host, logged in to the O3 registry when a key is set."""

    provider: docker.Provider

    def __init__(
        self,
        name: str,
        registry: RegistrySettings,
        key: Optional[pulumi.Output[str]],
        docker_host: Optional[str],
        ssh_opts: Sequence[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(f"{TYPE_PREFIX}RegistryLogin", name, {"server": registry.server, "loggedIn": key is not None}, opts)
        auth = None
        if key is not None:
            # Looked up by registry host, like `docker login <server>`.
            auth = [docker.ProviderRegistryAuthArgs(address=registry.server, username=registry.username, password=key)]
        self.provider = docker.Provider(
            f"{name}-docker",
            host=docker_host,
            ssh_opts=list(ssh_opts) or None,
            registry_auth=auth,
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["registryAuth"]),
        )
        self.register_outputs({})
