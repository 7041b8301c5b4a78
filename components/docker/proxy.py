"""Not in the vendor guide: the HTTPS front door, `o3-proxy` (o3:tls).

The official nginx image on `o3net` terminates TLS with the site's certificate and forwards to
VIEW (8181) and the PACS web port (8080) by container name; the apps' HTTP ports are then
published on loopback only (kept for checks on the host itself), so patient data never crosses
the hospital network in clear text. Port 4568 is not HTTP as far as we know and is left as
configured. Modern TLS only (1.2 and 1.3), HSTS, no upload size limit (DICOM studies are large).
The key is a secret upload, never an environment value or a command line; a renewal changes
only this container's uploads, so only the proxy is replaced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_docker as docker

from sitespec.config import LogSettings, TlsSettings
from sitespec.guide import PROXY_CONTAINER, PROXY_PACS_PORT, PROXY_VIEW_PORT

from .. import CERT_PATH, CONF_PATH, KEY_PATH, TYPE_PREFIX, nginx_conf
from . import published_ports, site_container

@dataclass(frozen=True)
class TlsProxyArgs:
    """What the HTTPS front door is made from."""

    tls: TlsSettings
    """o3:tls: the site's certificate (PEM) and the host ports of VIEW and the PACS over HTTPS."""
    key: pulumi.Output[str]
    """o3:tlsKey, the certificate's private key (PEM), as a secret."""
    bind_address: str
    """o3:ports.bindAddress: the host address the HTTPS ports are published on."""
    logs: LogSettings
    """o3:logs: the size (MB) and number of Docker's own log files of the container."""
    image_id: pulumi.Input[str]
    """Id of the pulled nginx image."""
    network_name: pulumi.Input[str]
    """Name of the site's network (o3net), where it reaches pacs and view by name."""
    labels: Mapping[str, str]
    """Docker labels of the container (o3.site, o3.managed-by, o3.image)."""
    provider: docker.Provider
    """The site's Docker provider (RegistryLogin.provider)."""
    depends_on: Sequence[pulumi.Resource]
    """What the container waits for: the schema step."""


class TlsProxy(pulumi.ComponentResource):
    """nginx terminating TLS for VIEW and the PACS web port."""

    container: docker.Container

    def __init__(self, name: str, args: TlsProxyArgs, opts: Optional[pulumi.ResourceOptions] = None):
        t = args.tls
        super().__init__(f"{TYPE_PREFIX}TlsProxy", name, {"viewPort": t.view_port, "pacsPort": t.pacs_port}, opts)
        publish = args.bind_address
        self.container = docker.Container(
            f"{name}-container",
            name=PROXY_CONTAINER,
            image=args.image_id,
            uploads=[
                docker.ContainerUploadArgs(file=CONF_PATH, content=nginx_conf(), permissions="0444"),
                docker.ContainerUploadArgs(file=CERT_PATH, content=t.certificate, permissions="0444"),
                docker.ContainerUploadArgs(file=KEY_PATH, content=args.key, permissions="0400"),
            ],
            ports=published_ports([(PROXY_VIEW_PORT, t.view_port, publish), (PROXY_PACS_PORT, t.pacs_port, publish)]),
            destroy_grace_seconds=10,
            **site_container(args.network_name, args.labels, args.logs),
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=args.provider,
                depends_on=list(args.depends_on),
                delete_before_replace=True,  # fixed name and ports
                additional_secret_outputs=["uploads"],
            ),
        )
        self.register_outputs({})
