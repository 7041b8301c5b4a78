"""The guide's `o3net`: a bridge network with a fixed subnet, so `db` resolves by name."""

from __future__ import annotations

import ipaddress

import pulumi
import pulumi_docker as docker

from sitespec.config import NetworkSettings

from . import TYPE_PREFIX


class O3Network(pulumi.ComponentResource):
    """The site's user-defined bridge network."""

    network: docker.Network

    def __init__(self, name: str, cfg: NetworkSettings, provider: docker.Provider, opts: pulumi.ResourceOptions | None = None):
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
            opts=pulumi.ResourceOptions(parent=self, provider=provider, delete_before_replace=True),
        )
        self.name = self.network.name
        self.register_outputs({"name": self.name})


def gateway(subnet: str) -> str:
    return str(next(ipaddress.ip_network(subnet).hosts()))
