"""One O3 site on the hospital's Kubernetes cluster: the vendor guide's parts, in the guide's
order, from the same stack config as a Docker site (o3:platform kubernetes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_random as random

from sitespec import sizing
from sitespec.facts import FACTS_SUFFIX, site_facts
from sitespec.guide import BACKUP_FOLDER, FOLDERS, PACS_CONTAINER, PACS_HTTP_PORT, VIEW_CONTAINER, VIEW_HTTP_PORT

from .. import TYPE_PREFIX, CommonSiteArgs, db_password
from .apps import KubeApplications, KubeApplicationsArgs
from .backup import KubePreUpgradeBackup, KubePreUpgradeBackupArgs
from .database import KubeDatabase, KubeDatabaseArgs
from .hardening import KubeNetworkPolicies, KubeNetworkPoliciesArgs
from .maintenance import KubeMaintenance, KubeMaintenanceArgs
from .offsite import KubeOffsite, KubeOffsiteArgs
from .network import KubeNamespace, KubeNamespaceArgs
from .proxy import KubeTlsProxy, KubeTlsProxyArgs
from .registry import KubeRegistryLogin, KubeRegistryLoginArgs
from .schemas import KubeSchemas, KubeSchemasArgs
from .secrets import KubeSecrets, KubeSecretsArgs
from .volumes import KubeDataVolume, KubeDataVolumeArgs


@dataclass(frozen=True)
class KubeSiteArgs(CommonSiteArgs):
    """What one Kubernetes site is made from (components.CommonSiteArgs), with o3:platform kubernetes."""


class KubeSite(pulumi.ComponentResource):
    """Namespace, pull Secret, secrets, data volume, the dumps, MySQL, schemas, the three apps."""

    def __init__(self, name: str, args: KubeSiteArgs, opts: Optional[pulumi.ResourceOptions] = None):
        cfg = args.config
        kube = cfg.kubernetes
        assert kube is not None
        site = cfg.site
        super().__init__(f"{TYPE_PREFIX}KubeSite", name, {"site": site.name}, opts)
        child = pulumi.ResourceOptions(parent=self)
        req = sizing.requirements(site.concurrent_users, site.pathology, site.exams_per_day)
        if req.high_exam_load:
            pulumi.log.warn(f"site {site.name}: {req.high_exam_load}")
        plan = sizing.kube_plan(req, site.concurrent_users, kube.replicas.pacs, kube.replicas.view,
                                external_db=bool(kube.database.external_host))
        # The site facts on a real resource, as on Docker (pulumi/pulumi#10533).
        random.RandomId(f"{name}{FACTS_SUFFIX}", byte_length=4, keepers=site_facts(cfg), opts=child)

        login = args.registry_key is not None
        ns = KubeNamespace(f"{name}-namespace", KubeNamespaceArgs(site=site.name, namespace=kube.namespace or site.name),
                           opts=child)
        registry = KubeRegistryLogin(f"{name}-registry", KubeRegistryLoginArgs(
            site=site.name, namespace=ns.name, registry=cfg.registry, key=args.registry_key,
            moved_from=pulumi.Alias(name=f"{name}-namespace-pull-secret", parent=ns)), opts=child)
        external = (kube.database.external_host, kube.database.external_port) if kube.database.external_host else None
        KubeNetworkPolicies(f"{name}-network-policies", KubeNetworkPoliciesArgs(
            site=site.name, namespace=ns.name, external_db=external, tls=cfg.tls.enabled,
            offsite=cfg.offsite.endpoint if cfg.offsite else None), opts=child)
        password = db_password(name, args.db_password, self)
        user = kube.database.user
        secrets = KubeSecrets(f"{name}-secrets", KubeSecretsArgs(
            site=site.name, namespace=ns.name, password=password, user=user), opts=child)
        volume = KubeDataVolume(f"{name}-data", KubeDataVolumeArgs(
            site=site.name, namespace=ns.name, storage_class=kube.storage_class, storage_gb=kube.storage_gb), opts=child)
        needs = [secrets.secret, volume.claim, volume.scripts] + ([registry.pull_secret] if registry.pull_secret else [])
        # Until release df2d194 one component, KubeDumps "<name>-dumps", held the Job and the CronJob:
        # the backup takes its place, and each moved resource keeps its old URN as an alias.
        dumps, dumps_type = f"{name}-dumps", f"{TYPE_PREFIX}KubeDumps"
        dumps_urn = pulumi.create_urn(dumps, dumps_type, parent=self)
        offsite = KubeOffsite(f"{name}-offsite", KubeOffsiteArgs(
            site=site.name, namespace=ns.name, config=cfg, secrets=args.offsite_secrets, with_pull_secret=login,
            depends_on=needs), opts=child) if cfg.offsite else None
        backup = KubePreUpgradeBackup(f"{name}-backup", KubePreUpgradeBackupArgs(
            site=site.name, namespace=ns.name, images=cfg.images, retain=cfg.backup.retain, with_pull_secret=login,
            depends_on=needs, moved_from=pulumi.Alias(name=f"{dumps}-pre-upgrade", parent=dumps_urn),
            offsite=offsite.pre_upgrade if offsite else None),
            opts=pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(name=dumps, type_=dumps_type)]))
        KubeMaintenance(f"{name}-maintenance", KubeMaintenanceArgs(
            site=site.name, namespace=ns.name, timezone=site.timezone, image=cfg.images.db, backup=cfg.backup,
            logs=cfg.logs, with_pull_secret=login, depends_on=needs,
            moved_from=pulumi.Alias(name=f"{dumps}-nightly", parent=dumps_urn)), opts=child)
        db_settings = kube.database.model_copy(update={"storage_class": kube.database.storage_class or kube.storage_class})
        db = KubeDatabase(f"{name}-db", KubeDatabaseArgs(
            site=site.name, namespace=ns.name, settings=cfg.database, kube=db_settings, image=cfg.images.db,
            timezone=site.timezone, extra_env=cfg.extra_env.db, request=plan.requests.get("db"),
            with_pull_secret=login, depends_on=[*needs, backup.job]), opts=child)
        schemas = KubeSchemas(f"{name}-schemas", KubeSchemasArgs(
            site=site.name, namespace=ns.name, image=cfg.images.db, user=user, retries=cfg.database.schema_retries,
            with_pull_secret=login, depends_on=[*needs, *db.ready]), opts=child)
        apps = KubeApplications(f"{name}-apps", KubeApplicationsArgs(
            site=site.name, namespace=ns.name, images={"pacs": cfg.images.pacs, "view": cfg.images.view},
            timezone=site.timezone,
            extra_env=cfg.extra_env.model_dump(by_alias=True),  # by o3:extraEnv key
            replicas=plan.replicas, requests=plan.requests, expose=kube.expose, http_public=not cfg.tls.enabled,
            with_pull_secret=login, depends_on=[schemas.job, backup.job],
            node_loss_seconds=kube.node_loss_seconds), opts=child)
        host = cfg.public_host_name
        if cfg.tls.enabled:
            assert args.tls_key is not None  # config validation requires it with TLS
            proxy = KubeTlsProxy(f"{name}-proxy", KubeTlsProxyArgs(
                site=site.name, namespace=ns.name, tls=cfg.tls, key=args.tls_key, image=cfg.images.proxy,
                expose=kube.expose, with_pull_secret=login, depends_on=list(apps.deployments.values()),
                node_loss_seconds=kube.node_loss_seconds), opts=child)
            self.pacs_url = public_url(proxy.service, cfg.tls.pacs_port, host, "https")
            self.view_url = public_url(proxy.service, cfg.tls.view_port, host, "https")
        else:
            self.pacs_url = public_url(apps.public[PACS_CONTAINER], PACS_HTTP_PORT, host)
            self.view_url = public_url(apps.public[VIEW_CONTAINER], VIEW_HTTP_PORT, host)

        self.images = {"db": cfg.images.db, "pacs": cfg.images.pacs, "view": cfg.images.view}
        self.namespace = ns.name
        self.log_folders = {"pacs": f"{FOLDERS['pacsLog']} on the volume o3-data",
                            "view": f"{FOLDERS['viewLog']} on the volume o3-data"}
        self.backup_folder = f"{BACKUP_FOLDER} on the volume o3-data"
        self.next_steps = [
            "Activate the VIEW licence and finish VIEW's setup at the viewUrl output (vendor guide: 'VIEW configuration').",
            "Configure the PACS at the pacsUrl output (vendor guide: 'PACS configuration').",
            "Logs: `kubectl logs -n <namespace> deploy/pacs|view`, and the log folders on the volume o3-data.",
        ]
        self.register_outputs({})


def public_url(service, port: int, host: str, scheme: str = "http") -> pulumi.Output[str]:
    """The URL users type: the public Service's node port for `port` (a LoadBalancer's port is the port)."""
    def pick(spec) -> str:
        for p in getattr(spec, "ports", None) or []:
            if p.port == port:
                return f"{scheme}://{host}:{p.node_port or port}/"
        return f"{scheme}://{host}:{port}/"

    return service.spec.apply(pick)
