"""The guide's `docker login`: a Docker provider that carries the registry key as a Pulumi secret.

Every Docker resource of the site uses this provider, so pulls authenticate without a
`docker login` on the host and without the key ever touching a command line or ~/.docker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import pulumi
import pulumi_docker as docker

from sitespec.config import RegistrySettings

from .. import TYPE_PREFIX


@dataclass(frozen=True)
class RegistryLoginArgs:
    """The registry to log in to, and the Docker host the provider talks to."""

    registry: RegistrySettings
    """o3:registry: the registry's server and the user name to log in as."""
    key: Optional[pulumi.Output[str]]
    """o3:registryKey, the registry's JSON key, as a secret; None: no login (public or local images)."""
    docker_host: Optional[str]
    """docker:host: the daemon the provider talks to (local socket when None, or ssh://)."""
    ssh_opts: Sequence[str]
    """docker:sshOpts: options for the ssh client when docker_host is ssh://."""


class RegistryLogin(pulumi.ComponentResource):
    """A Docker provider for the site's host, logged in to the O3 registry when a key is set."""

    provider: docker.Provider

    def __init__(self, name: str, args: RegistryLoginArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{TYPE_PREFIX}RegistryLogin", name,
                         {"server": args.registry.server, "loggedIn": args.key is not None}, opts)
        auth = None
        if args.key is not None:
            # Looked up by registry host, like `docker login <server>`.
            auth = [docker.ProviderRegistryAuthArgs(address=args.registry.server, username=args.registry.username,
                                                    password=args.key)]
        self.provider = docker.Provider(
            f"{name}-docker",
            host=args.docker_host,
            ssh_opts=list(args.ssh_opts) or None,
            registry_auth=auth,
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["registryAuth"]),
        )
        self.register_outputs({})
