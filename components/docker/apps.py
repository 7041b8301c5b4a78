"""The guide's `pacs`, `pacs-singleton` and `view` services.

Each container gets exactly the guide's variables (plus its own `o3:extraEnv`), not the whole
`.env`; the connection strings carry the password and are Pulumi secrets. pacs and
pacs-singleton share one pulled image. New images are pulled before a container is replaced
(the RemoteImage is replaced create-before-delete), so an upgrade's downtime is one restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import pulumi
import pulumi_docker as docker

from sitespec.config import LogSettings, PortSettings
from sitespec.containers import APPS
from sitespec.guide import PACS_HTTP_PORT, PACS_SERVICE_PORT, VIEW_HTTP_PORT

from .. import TYPE_PREFIX
from . import env_list, published_ports, site_container


@dataclass(frozen=True)
class ApplicationsArgs:
    """What the three application containers are made from."""

    pacs_image_id: pulumi.Input[str]
    """Id of the pulled pacs image; pacs and pacs-singleton both run it."""
    view_image_id: pulumi.Input[str]
    """Id of the pulled view image."""
    connection_strings: Mapping[str, pulumi.Output[str]]
    """The guide's JDBC strings by variable (DPACS_, NGV_, ULTIMATE_CONNECTION_STRING), as secrets."""
    timezone: str
    """o3:site.timezone, an IANA zone (e.g. Europe/Rome), given to each container as TZ."""
    folders: Mapping[str, str]
    """Absolute host path of each storage folder role (StorageFolders.paths)."""
    ports: PortSettings
    """o3:ports: the host address to publish on and the host ports of pacs and view."""
    http_on_loopback: bool
    """True behind the HTTPS front door: the HTTP ports are then published on 127.0.0.1 only."""
    logs: LogSettings
    """o3:logs: the size (MB) and number of Docker's own log files per container."""
    network_name: pulumi.Input[str]
    """Name of the site's network (o3net)."""
    extra_env: Mapping[str, Mapping[str, str]]
    """o3:extraEnv by container key (sitespec.containers: Container.extra_env_key)."""
    labels: Mapping[str, str]
    """Docker labels of every app container; each also gets o3.image."""
    image_refs: Mapping[str, str]
    """Image reference of pacs and of view (keys pacs, view), recorded in the o3.image label."""
    provider: docker.Provider
    """The site's Docker provider (RegistryLogin.provider)."""
    depends_on: Sequence[pulumi.Resource]
    """What every container waits for: the schema step and the pre-upgrade dump."""


class Applications(pulumi.ComponentResource):
    """The three application containers, started once the schemas exist."""

    containers: dict[str, docker.Container]

    def __init__(self, name: str, args: ApplicationsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{TYPE_PREFIX}Applications", name, {}, opts)
        publish = args.ports.bind_address
        # Behind the HTTPS front door the plain HTTP ports stay on the host itself.
        http_publish = "127.0.0.1" if args.http_on_loopback else publish
        host_ports = {PACS_HTTP_PORT: args.ports.pacs_http, PACS_SERVICE_PORT: args.ports.pacs_service,
                      VIEW_HTTP_PORT: args.ports.view_http}
        images = {"pacs": args.pacs_image_id, "view": args.view_image_id}
        self.containers = {}
        for c in APPS:
            env = {**c.literal_env(args.timezone, args.extra_env[c.extra_env_key]),
                   **{var: args.connection_strings[var] for var in c.secret_env}}
            published = [(p.number, host_ports[p.number], http_publish if p.http else publish) for p in c.ports]
            # o3.image records the reference each container runs (the backup names dumps after it).
            labels = {**args.labels, "o3.image": args.image_refs[c.image]}
            self.containers[c.name] = docker.Container(
                f"{name}-{c.name}",
                name=c.name,
                image=images[c.image],
                envs=env_list(env),
                volumes=[
                    docker.ContainerVolumeArgs(host_path=args.folders[role], container_path=path, read_only=False)
                    for role, path in c.mounts
                ],
                ports=published_ports(published),
                destroy_grace_seconds=c.stop_grace_seconds,
                **site_container(args.network_name, labels, args.logs),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    provider=args.provider,
                    depends_on=list(args.depends_on),
                    delete_before_replace=True,
                    additional_secret_outputs=["envs"],
                ),
            )
        self.register_outputs({})
