"""The guide's `o3net`: a bridge network with a fixed subnet, so `db` resolves by name."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_docker as docker

from sitespec.config import NetworkSettings

from .. import TYPE_PREFIX


@dataclass(frozen=True)
class NetworkArgs:
    """What the site's network is made from."""

    settings: NetworkSettings
    """o3:network: the bridge's name and its fixed subnet (CIDR)."""
    provider: docker.Provider
    """The site's Docker provider (RegistryLogin.provider)."""


class Network(pulumi.ComponentResource):
    """The site's user-defined bridge network."""

    network: docker.Network

    def __init__(self, name: str, args: NetworkArgs, opts: Optional[pulumi.ResourceOptions] = None):
        cfg = args.settings
        super().__init__(f"{TYPE_PREFIX}Network", name, {"name": cfg.name, "subnet": cfg.subnet}, opts)
        self.network = docker.Network(
            f"{name}-network",
            name=cfg.name,
            driver="bridge",
            ipam_driver="default",
            # The gateway Docker would pick anyway (the subnet's first address), declared: the
            # provider reads it back, and an undeclared one is a diff that replaces the network
            # and every container on it.
            ipam_configs=[docker.NetworkIpamConfigArgs(subnet=cfg.subnet, gateway=gateway(cfg.subnet))],
            # Fixed name: the old network must go before the new one can exist.
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, delete_before_replace=True),
        )
        self.name = self.network.name
        self.register_outputs({"name": self.name})


def gateway(subnet: str) -> str:
    return str(next(ipaddress.ip_network(subnet).hosts()))
