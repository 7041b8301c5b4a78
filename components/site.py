"""One O3 site: the vendor guide's steps in the guide's order, as one component."""

from __future__ import annotations

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from .apps import Applications
from .common import TYPE_PREFIX, host_name
from .config import SiteConfig
from .database import Database
from .guide import connection_strings
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

        db = Database(
            f"{name}-db",
            cfg.database,
            images["db"].image_id,
            password,
            site.timezone,
            folders.paths,
            net.name,
            cfg.extra_env.db,
            labels,
            provider,
            depends_on=[folders.ready],
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
            provider,
            depends_on=[schemas.command],
            opts=child,
        )

        host = site.public_host or host_name(cfg.docker_host)
        self.pacs_url = f"http://{host}:{cfg.ports.pacs_http}/"
        self.view_url = f"http://{host}:{cfg.ports.view_http}/"
        self.log_folders = {"pacs": folders.paths["pacsLog"], "view": folders.paths["viewLog"]}
        self.storage_path = site.storage_path
        self.next_steps = [
            f"Activate the VIEW licence and finish VIEW's setup at {self.view_url} (vendor guide: 'VIEW configuration').",
            f"Configure the PACS at {self.pacs_url} (vendor guide: 'PACS configuration').",
            f"Logs: {self.log_folders['pacs']} and {self.log_folders['view']}, or `docker logs -f pacs|view`.",
        ]
        self.register_outputs({"pacsUrl": self.pacs_url, "viewUrl": self.view_url})
