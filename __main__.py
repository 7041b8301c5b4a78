"""Entry point of the `o3` Pulumi program: one O3 PACS + VIEW site per stack.

The program's edge: the stack config is read here, once, through the SDK's public API, validated
by `sitespec.config` (no Pulumi there) and its secrets handed on as secret Outputs only.
"""

from typing import Optional

import pulumi

from components.docker.site import Site, SiteArgs
from components.kubernetes.site import KubeSite, KubeSiteArgs
from sitespec import config


def read_config() -> config.SiteConfig:
    """The stack's `o3:` and `docker:` config, validated; every problem at once, as a RunError."""
    o3 = pulumi.Config(config.PROJECT)
    prefix = f"{config.PROJECT}:"
    # Declared keys, and any other `o3:` key the stack sets (a typo is reported, not ignored).
    names = {f.alias or n for n, f in config.SiteConfig.model_fields.items()} - set(config.DOCKER_KEYS)
    names |= {k.removeprefix(prefix) for k in pulumi.runtime.get_config_env() if k.startswith(prefix)}
    raw = {n: v for n in sorted(names) if (v := o3.get(n)) is not None}
    secret = {k for k in config.SECRET_KEYS if pulumi.runtime.is_config_secret(prefix + k)}
    docker = pulumi.Config("docker")
    try:
        return config.parse(raw, secret, docker.get("host"), docker.get("sshOpts"))
    except config.ConfigError as e:
        raise pulumi.RunError(str(e)) from None  # the engine prints it without a traceback


def secret(value: Optional[str]) -> Optional[pulumi.Output[str]]:
    return pulumi.Output.secret(value) if value else None


cfg = read_config()  # raises before any resource exists when the stack config is invalid
# The site's own off-host credentials (the operator's stay with the operator's commands).
offsite_secrets = {key: secret(getattr(cfg, attr)) for key, attr in (
    ("offsitePassword", "offsite_password"), ("offsiteHttpPassword", "offsite_http_password"),
    ("offsiteSshKey", "offsite_ssh_key")) if getattr(cfg, attr)}
if cfg.platform == "kubernetes":
    kube = KubeSite(cfg.site.name, KubeSiteArgs(config=cfg, db_password=secret(cfg.db_password),
                                                registry_key=secret(cfg.registry_key), tls_key=secret(cfg.tls_key),
                                        offsite_secrets=offsite_secrets))
    pulumi.export("namespace", kube.namespace)
    site = kube
else:
    site = Site(cfg.site.name, SiteArgs(config=cfg, db_password=secret(cfg.db_password),
                                        registry_key=secret(cfg.registry_key), tls_key=secret(cfg.tls_key),
                                        offsite_secrets=offsite_secrets))
    pulumi.export("storagePath", site.storage_path)

pulumi.export("pacsUrl", site.pacs_url)
pulumi.export("viewUrl", site.view_url)
pulumi.export("logFolders", site.log_folders)
pulumi.export("backupFolder", site.backup_folder)
pulumi.export("nextSteps", site.next_steps)
pulumi.export("images", site.images)
