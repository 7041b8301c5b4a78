"""One O3 site: the vendor guide's steps in the guide's order, as one component."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from sitespec import sizing
from sitespec.config import SiteConfig
from sitespec.facts import FACTS_SUFFIX, site_facts
from sitespec.guide import connection_strings

from .. import TYPE_PREFIX, CommonSiteArgs, db_password
from .apps import Applications, ApplicationsArgs
from .backup import PreUpgradeBackup, PreUpgradeBackupArgs
from .database import Database, DatabaseArgs
from .maintenance import Maintenance, MaintenanceArgs
from .network import Network, NetworkArgs
from .offsite import Offsite, OffsiteArgs
from .proxy import TlsProxy, TlsProxyArgs
from .registry import RegistryLogin, RegistryLoginArgs
from .schemas import Schemas, SchemasArgs
from .volumes import StorageFolders, StorageFoldersArgs


@dataclass(frozen=True)
class SiteArgs(CommonSiteArgs):
    """What one Docker site is made from (components.CommonSiteArgs), with o3:platform docker."""


class Site(pulumi.ComponentResource):
    """Network, folders, registry login, MySQL, schemas and the three apps of one site."""

    def __init__(self, name: str, args: SiteArgs, opts: Optional[pulumi.ResourceOptions] = None):
        cfg = args.config
        super().__init__(f"{TYPE_PREFIX}Site", name, {"site": cfg.site.name}, opts)
        child = pulumi.ResourceOptions(parent=self)
        site = cfg.site

        self._warn_if_undersized(cfg)
        for warning in cfg.warnings:
            pulumi.log.warn(f"site {cfg.site.name}: {warning}")
        # Site facts on a real resource: the policy pack cannot see component inputs in a real
        # run (pulumi/pulumi#10533). Replacing it is harmless, so a changed user count or host
        # size touches nothing else (labels on the containers would restart them).
        random.RandomId(f"{name}{FACTS_SUFFIX}", byte_length=4, keepers=site_facts(cfg), opts=child)

        login = RegistryLogin(
            f"{name}-registry",
            RegistryLoginArgs(registry=cfg.registry, key=args.registry_key, docker_host=cfg.docker_host,
                              ssh_opts=cfg.ssh_opts),
            opts=child,
        )
        provider = login.provider

        password = db_password(name, args.db_password, self)

        # One pull per image; pacs and pacs-singleton share theirs. keep_locally: a replaced
        # image stays on the host for a fast rollback and is never pulled out from under a container.
        image_opts = pulumi.ResourceOptions(parent=self, provider=provider)
        refs = {"db": cfg.images.db, "pacs": cfg.images.pacs, "view": cfg.images.view}
        if cfg.tls.enabled:
            refs["proxy"] = cfg.images.proxy
        if cfg.offsite:
            refs["restic"] = cfg.images.restic
        images = {
            role: docker.RemoteImage(f"{name}-{role}-image", name=ref, keep_locally=True, opts=image_opts)
            for role, ref in refs.items()
        }

        net = Network(f"{name}-net", NetworkArgs(settings=cfg.network, provider=provider), opts=child)
        folders = StorageFolders(
            f"{name}-folders",
            StorageFoldersArgs(storage_path=site.storage_path, helper_image=images["db"].image_id,
                               docker_host=cfg.docker_host, ssh_opts=cfg.ssh_opts),
            opts=child,
        )
        labels = {"o3.site": site.name, "o3.managed-by": "pulumi"}
        # Runs (and must succeed) before any container is replaced for a new image.
        backup = PreUpgradeBackup(
            f"{name}-backup",
            PreUpgradeBackupArgs(
                site=site.name,
                images=cfg.images,
                storage_path=site.storage_path,
                helper_image=images["db"].image_id,
                network_name=net.name,
                password=password,
                retain=cfg.backup.retain,
                offsite=cfg.offsite is not None,
                docker_host=cfg.docker_host,
                ssh_opts=cfg.ssh_opts,
                depends_on=[folders.ready],
            ),
            opts=child,
        )

        db = Database(
            f"{name}-db",
            DatabaseArgs(
                settings=cfg.database,
                image_id=images["db"].image_id,
                password=password,
                timezone=site.timezone,
                folders=folders.paths,
                network_name=net.name,
                extra_env=cfg.extra_env.db,
                labels={**labels, "o3.image": cfg.images.db},
                logs=cfg.logs,
                provider=provider,
                depends_on=[folders.ready, backup.command],
            ),
            opts=child,
        )
        schemas = Schemas(
            f"{name}-schemas",
            SchemasArgs(db=db.container, password=password, retries=cfg.database.schema_retries,
                        docker_host=cfg.docker_host, ssh_opts=cfg.ssh_opts),
            opts=child,
        )
        Applications(
            f"{name}-apps",
            ApplicationsArgs(
                pacs_image_id=images["pacs"].image_id,
                view_image_id=images["view"].image_id,
                connection_strings={
                    name: pulumi.Output.secret(password.apply(lambda pw, n=name: connection_strings(pw)[n]))
                    for name in connection_strings("").keys()
                },
                timezone=site.timezone,
                folders=folders.paths,
                ports=cfg.ports,
                http_on_loopback=cfg.tls.enabled,
                logs=cfg.logs,
                network_name=net.name,
                extra_env=cfg.extra_env.model_dump(by_alias=True),  # by o3:extraEnv key
                labels=labels,
                image_refs={"pacs": cfg.images.pacs, "view": cfg.images.view},
                provider=provider,
                depends_on=[schemas.command, backup.command],
            ),
            opts=child,
        )

        if cfg.offsite:
            Offsite(
                f"{name}-offsite",
                OffsiteArgs(
                    config=cfg,
                    image_id=images["restic"].image_id,
                    secrets=args.offsite_secrets,
                    folders=folders.paths,
                    network_name=net.name,
                    labels={**labels, "o3.image": cfg.images.restic},
                    provider=provider,
                    depends_on=[folders.ready],
                ),
                opts=child,
            )
        Maintenance(
            f"{name}-maintenance",
            MaintenanceArgs(
                site=site.name,
                timezone=site.timezone,
                backup=cfg.backup,
                offsite_schedule=cfg.offsite.schedule_after(cfg.backup.schedule) if cfg.offsite else None,
                logs=cfg.logs,
                image_id=images["db"].image_id,
                password=password,
                folders=folders.paths,
                network_name=net.name,
                labels={**labels, "o3.image": cfg.images.db},
                provider=provider,
                depends_on=[schemas.command],
            ),
            opts=child,
        )
        if cfg.tls.enabled:
            key = args.tls_key
            assert key is not None  # config validation requires it with TLS
            TlsProxy(
                f"{name}-proxy",
                TlsProxyArgs(
                    tls=cfg.tls,
                    key=key,
                    bind_address=cfg.ports.bind_address,
                    logs=cfg.logs,
                    image_id=images["proxy"].image_id,
                    network_name=net.name,
                    labels={**labels, "o3.image": cfg.images.proxy},
                    provider=provider,
                    depends_on=[schemas.command],
                ),
                opts=child,
            )

        host = cfg.public_host_name
        if cfg.tls.enabled:
            self.pacs_url = https_url(host, cfg.tls.pacs_port)
            self.view_url = https_url(host, cfg.tls.view_port)
        else:
            self.pacs_url = f"http://{host}:{cfg.ports.pacs_http}/"
            self.view_url = f"http://{host}:{cfg.ports.view_http}/"
        self.images = refs
        self.log_folders = {"pacs": folders.paths["pacsLog"], "view": folders.paths["viewLog"]}
        self.storage_path = site.storage_path
        self.backup_folder = backup.folder
        self.next_steps = [
            f"Activate the VIEW licence and finish VIEW's setup at {self.view_url} (vendor guide: 'VIEW configuration').",
            f"Configure the PACS at {self.pacs_url} (vendor guide: 'PACS configuration').",
            f"Logs: {self.log_folders['pacs']} and {self.log_folders['view']}, or `docker logs -f pacs|view`.",
        ]
        self.register_outputs({"pacsUrl": self.pacs_url, "viewUrl": self.view_url})

    @staticmethod
    def _warn_if_undersized(cfg: SiteConfig) -> None:
        req, found = sizing.for_site(cfg)
        for f in found:
            if f.short:
                pulumi.log.warn(f"site {cfg.site.name}: host below the vendor's minimum: {f.describe()}")
        if req.high_exam_load:
            pulumi.log.warn(f"site {cfg.site.name}: {req.high_exam_load}")


def https_url(host: str, port: int) -> str:
    return f"https://{host}/" if port == 443 else f"https://{host}:{port}/"
