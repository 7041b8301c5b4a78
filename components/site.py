"""One O3 site: the vendor guide's steps in the guide's order, as one component."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from sitespec import sizing
from sitespec.config import SiteConfig
from sitespec.facts import FACTS_SUFFIX, site_facts
from sitespec.guide import connection_strings

from . import TYPE_PREFIX
from .apps import Applications
from .backup import PreUpgradeBackup
from .database import Database
from .network import O3Network
from .registry import RegistryLogin
from .schemas import Schemas
from .volumes import StorageFolders


class O3Site(pulumi.ComponentResource):
    """Network, folders, registry login, MySQL, schemas and the three apps of one site."""

    def __init__(self, name: str, cfg: SiteConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__(f"{TYPE_PREFIX}Site", name, {"site": cfg.site.name}, opts)
        child = pulumi.ResourceOptions(parent=self)
        site = cfg.site

        self._warn_if_undersized(cfg)
        # Site facts on a real resource: the policy pack cannot see component inputs in a real
        # run (pulumi/pulumi#10533). Replacing it is harmless, so a changed user count or host
        # size touches nothing else (labels on the containers would restart them).
        random.RandomId(f"{name}{FACTS_SUFFIX}", byte_length=4, keepers=site_facts(cfg), opts=child)

        login = RegistryLogin(f"{name}-registry", cfg.registry, cfg.registry_key_secret, cfg.docker_host, child)
        provider = login.provider

        password = cfg.db_password_secret
        if password is None:
            # Generated once and kept in state. Letters and digits only: it goes into ';'-separated
            # JDBC strings. MySQL keeps the first password it was initialised with (README).
            generated = random.RandomPassword(f"{name}-db-password", length=32, special=False, opts=child)
            password = pulumi.Output.secret(generated.result)

        # One pull per image; pacs and pacs-singleton share theirs. keep_locally: a replaced
        # image stays on the host for a fast rollback and is never pulled out from under a container.
        image_opts = pulumi.ResourceOptions(parent=self, provider=provider)
        images = {
            role: docker.RemoteImage(f"{name}-{role}-image", name=ref, keep_locally=True, opts=image_opts)
            for role, ref in (("db", cfg.images.db), ("pacs", cfg.images.pacs), ("view", cfg.images.view))
        }

        net = O3Network(f"{name}-net", cfg.network, provider, child)
        folders = StorageFolders(f"{name}-folders", site.storage_path, images["db"].image_id, cfg.docker_host, child)
        labels = {"o3.site": site.name, "o3.managed-by": "pulumi"}
        # Runs (and must succeed) before any container is replaced for a new image.
        backup = PreUpgradeBackup(
            f"{name}-backup", cfg.images, site.storage_path, images["db"].image_id, password,
            cfg.backup.retain, cfg.docker_host, depends_on=[folders.ready], opts=child,
        )

        db = Database(
            f"{name}-db",
            cfg.database,
            images["db"].image_id,
            password,
            site.timezone,
            folders.paths,
            net.name,
            cfg.extra_env.db,
            {**labels, "o3.image": cfg.images.db},
            provider,
            depends_on=[folders.ready, backup.command],
            opts=child,
        )
        schemas = Schemas(f"{name}-schemas", db.container, password, cfg.database.schema_retries, cfg.docker_host, child)
        Applications(
            f"{name}-apps",
            images["pacs"].image_id,
            images["view"].image_id,
            connection_strings(password),
            site.timezone,
            folders.paths,
            cfg.ports,
            net.name,
            {"pacs": cfg.extra_env.pacs, "pacsSingleton": cfg.extra_env.pacs_singleton, "view": cfg.extra_env.view},
            labels,
            {"pacs": cfg.images.pacs, "view": cfg.images.view},
            provider,
            depends_on=[schemas.command, backup.command],
            opts=child,
        )

        host = cfg.public_host_name
        self.pacs_url = f"http://{host}:{cfg.ports.pacs_http}/"
        self.view_url = f"http://{host}:{cfg.ports.view_http}/"
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
