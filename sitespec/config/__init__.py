"""The site's stack config: the product's public interface, typed and validated once.

Its keys live in `Pulumi.<site>.yaml`, in `o3:` (and `docker:host` / `docker:sshOpts`). `parse()`
validates them all with pydantic and raises one `ConfigError` that lists every problem (key, what
is expected, how to fix it); the program (`__main__.py`) reads the stack and calls it before it
registers any resource. No Pulumi here: the policy pack and the commands read it too.

- `models`: the keys, their types, defaults and checks; the one source of the config's docs.
- `fields`: the field types the models share, and the metadata the rest reads.
- `platforms`: which platform owns which key (field metadata), and the refusals.
- `secret_keys`: the secret keys, how to set each, their checks.
- `parsing`: `parse()`, raw config in, a `SiteConfig` or one `ConfigError` out.
"""

from .fields import PROJECT, Kind, OnlyOn, ProviderKey, model_of
from .models import (
    DEFAULT_DB_IMAGE,
    DEFAULT_PROXY_IMAGE,
    DEFAULT_REGISTRY,
    DEFAULT_RESTIC_IMAGE,
    GUIDE_MYSQLD_FLAGS,
    MANAGED_ENV,
    PLATFORMS,
    RINGS,
    BackupSettings,
    DatabaseSettings,
    ExtraEnv,
    HostSize,
    ImageRefs,
    KubeDatabaseSettings,
    KubeReplicas,
    KubernetesSettings,
    LogSettings,
    NetworkSettings,
    OffsiteOperator,
    OffsiteRetention,
    OffsiteSettings,
    Platform,
    PortSettings,
    RegistrySettings,
    Ring,
    SiteConfig,
    SiteSettings,
    TlsSettings,
    Ulimits,
)
from .parsing import DOCKER_KEYS, ConfigError, parse
from .secret_keys import SECRET_KEYS, is_registry_key

__all__ = [
    "PROJECT", "Kind", "OnlyOn", "ProviderKey", "model_of",
    "DEFAULT_DB_IMAGE", "DEFAULT_PROXY_IMAGE", "DEFAULT_REGISTRY", "DEFAULT_RESTIC_IMAGE", "GUIDE_MYSQLD_FLAGS", "MANAGED_ENV",
    "PLATFORMS", "RINGS", "BackupSettings", "DatabaseSettings", "ExtraEnv", "HostSize", "ImageRefs",
    "KubeDatabaseSettings", "KubeReplicas", "KubernetesSettings", "LogSettings", "NetworkSettings",
    "OffsiteOperator", "OffsiteRetention", "OffsiteSettings", "Platform", "PortSettings", "RegistrySettings", "Ring", "SiteConfig", "SiteSettings", "TlsSettings", "Ulimits",
    "DOCKER_KEYS", "ConfigError", "parse", "SECRET_KEYS", "is_registry_key",
]
