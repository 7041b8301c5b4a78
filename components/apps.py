"""The guide's `pacs`, `pacs-singleton` and `view` services.

Each container gets exactly the guide's variables (plus its own `o3:extraEnv`), not the whole
`.env`; the connection strings carry the password and are Pulumi secrets. pacs and
pacs-singleton share one pulled image. New images are pulled before a container is replaced
(the RemoteImage is replaced create-before-delete), so an upgrade's downtime is one restart.
"""

from __future__ import annotations

from typing import Mapping

import pulumi
import pulumi_docker as docker

from sitespec.config import LogSettings, PortSettings
from sitespec.guide import (
    MOUNTS,
    PACS_CONTAINER,
    PERIODIC_SERVICES_ENV,
    PACS_HTTP_PORT,
    PACS_SERVICE_PORT,
    SINGLETON_CONTAINER,
    VIEW_CONTAINER,
    VIEW_HTTP_PORT,
)

from . import TYPE_PREFIX, env_list, published_ports, site_container


class Applications(pulumi.ComponentResource):
    """The three application containers, started once the schemas exist."""

    containers: dict[str, docker.Container]

    def __init__(
        self,
        name: str,
        pacs_image_id: pulumi.Input[str],
        view_image_id: pulumi.Input[str],
        connection_strings: Mapping[str, pulumi.Output[str]],
        timezone: str,
        folders: Mapping[str, str],
        ports: PortSettings,
        http_on_loopback: bool,
        logs: LogSettings,
        network_name: pulumi.Input[str],
        extra_env: Mapping[str, Mapping[str, str]],
        labels: Mapping[str, str],
        image_refs: Mapping[str, str],
        provider: docker.Provider,
        depends_on: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(f"{TYPE_PREFIX}Applications", name, {}, opts)
        dpacs = {"DPACS_CONNECTION_STRING": connection_strings["DPACS_CONNECTION_STRING"]}
        common = {"LOG_TO": "FILE", "TZ": timezone}
        publish = ports.bind_address
        # Behind the HTTPS front door the plain HTTP ports stay on the host itself.
        http_publish = "127.0.0.1" if http_on_loopback else publish
        # o3.image records the reference each container runs (the backup names dumps after it).
        pacs_labels = {**labels, "o3.image": image_refs["pacs"]}
        view_labels = {**labels, "o3.image": image_refs["view"]}
        specs = {
            PACS_CONTAINER: (
                pacs_image_id,
                pacs_labels,
                {**extra_env["pacs"], **common, **dpacs},
                [(PACS_HTTP_PORT, ports.pacs_http, http_publish), (PACS_SERVICE_PORT, ports.pacs_service, publish)],
            ),
            SINGLETON_CONTAINER: (
                pacs_image_id,
                pacs_labels,
                {**extra_env["pacsSingleton"], **common, **dpacs, PERIODIC_SERVICES_ENV: "true"},
                [],
            ),
            VIEW_CONTAINER: (
                view_image_id,
                view_labels,
                {
                    **extra_env["view"],
                    **common,
                    "NGV_CONNECTION_STRING": connection_strings["NGV_CONNECTION_STRING"],
                    "ULTIMATE_CONNECTION_STRING": connection_strings["ULTIMATE_CONNECTION_STRING"],
                },
                [(VIEW_HTTP_PORT, ports.view_http, http_publish)],
            ),
        }
        self.containers = {}
        for cname, (image, cont_labels, env, published) in specs.items():
            self.containers[cname] = docker.Container(
                f"{name}-{cname}",
                name=cname,
                image=image,
                envs=env_list(env),
                volumes=[
                    docker.ContainerVolumeArgs(host_path=folders[role], container_path=path, read_only=False)
                    for role, path in MOUNTS[cname]
                ],
                ports=published_ports(published),
                destroy_grace_seconds=30,
                **site_container(network_name, cont_labels, logs),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    provider=provider,
                    depends_on=depends_on,
                    delete_before_replace=True,
                    additional_secret_outputs=["envs"],
                ),
            )
        self.register_outputs({})
