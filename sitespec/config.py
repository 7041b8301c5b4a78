"""The site's stack config: the product's public interface, typed and validated once.

Every key lives in the `o3:` namespace of `Pulumi.<site>.yaml`. `parse()` validates them all
with pydantic and raises one `ConfigError` that lists every problem (key, what is expected, how
to fix it); the program (`__main__.py`) reads the stack and calls it before it registers any
resource. Defaults are the vendor guide's values (`../shared/spec/vendor-install-guide.txt`).

The models are the one source of the config's documentation: each field's docstring is its
description, and `python -m ops.schema --write` generates `Pulumi.yaml`'s declarations and the
README's key table from them. No Pulumi here: the policy pack and the commands read it too.
"""

from __future__ import annotations

import ipaddress
import json
import posixpath
import re
import zoneinfo
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Optional, get_args
from urllib.parse import urlparse

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from . import containers, guide, imageref, tls

PROJECT = "o3"

# The guide's VARMYSQL, split the way `command: mysqld ${VARMYSQL}` is split by compose.
GUIDE_MYSQLD_FLAGS = [
    "--sql_mode=STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO,"
    "NO_ENGINE_SUBSTITUTION,ALLOW_INVALID_DATES",
    "--character_set_server=utf8",
    "--collation_server=utf8_general_ci",
]
DEFAULT_DB_IMAGE = "mysql:8.0.34"
# The official nginx image (stable branch), pinned like the others: the HTTPS front door.
DEFAULT_PROXY_IMAGE = "nginx:1.28.0"
DEFAULT_REGISTRY = "europe-west1-docker.pkg.dev"

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Safe inside the guide's `;`-separated JDBC strings, an env var and a shell variable.
_PASSWORD = re.compile(r"^[A-Za-z0-9_.@%+:,~^!#*-]{12,128}$")


class _Model(BaseModel):
    # Unknown keys are typos until proven otherwise; a field's docstring is its description.
    model_config = ConfigDict(extra="forbid", populate_by_name=False, frozen=True, use_attribute_docstrings=True)


@dataclass(frozen=True)
class Kind:
    """How the README's key table names a field's type (and its default, when a value says too little)."""

    type: str
    default: Optional[str] = None


def _dns_label(v: str) -> str:
    if not _DNS_LABEL.match(v):
        raise ValueError("must be a DNS label: lower-case letters, digits and '-', 1-63 characters, e.g. 'st-marys'")
    return v


def _timezone(v: str) -> str:
    try:
        zoneinfo.ZoneInfo(v)  # one file lookup; available_timezones() walks the whole tree
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'{v}' is not an IANA time zone name; use e.g. 'Europe/Rome' or 'UTC'") from None
    return v


def _abs_path(v: str) -> str:
    if not v.startswith("/"):
        raise ValueError(f"must be an absolute path on the Docker host, e.g. /srv/o3 (got '{v}')")
    if not _SAFE_PATH.match(v):
        raise ValueError("may only contain letters, digits, '.', '_', '-' and '/' (a ':' or a space breaks bind mounts)")
    norm = posixpath.normpath(v)
    if norm != v.rstrip("/") or ".." in v.split("/"):
        raise ValueError(f"must be a normalised path without '..', '//' or a trailing '/': use '{norm}'")
    if norm == "/":
        raise ValueError("must not be '/': use a dedicated folder, e.g. /srv/o3")
    return norm


def _image_ref(v: str) -> str:
    if imageref.has_placeholder(v):
        raise ValueError(
            f"'{v}' still holds the guide's placeholder: put the version your O3 contact gave you, e.g. ...:1.2.3"
        )
    if imageref.parse(v) is None:
        raise ValueError(f"'{v}' is not a valid image reference: use registry/path/name:tag")
    return v


def _port(v: int) -> int:
    if not 1 <= v <= 65535:
        raise ValueError("must be a TCP port between 1 and 65535")
    return v


Port = Annotated[StrictInt, AfterValidator(_port), Kind("port")]


Ring = Literal["canary", "early", "broad"]
RINGS: tuple[str, ...] = get_args(Ring)  # rollout order
Platform = Literal["docker", "kubernetes"]
PLATFORMS: tuple[str, ...] = get_args(Platform)


class SiteSettings(_Model):
    """Who the site is and where its data lives."""

    name: Annotated[str, AfterValidator(_dns_label), Kind("DNS label")]
    """The site's name (labels, messages): lower-case letters, digits and '-'."""
    timezone: Annotated[str, AfterValidator(_timezone), Kind("IANA name")]
    """IANA time zone, e.g. Europe/Rome; becomes TZ in every container."""
    storage_path: Annotated[Optional[str], AfterValidator(lambda v: v if v is None else _abs_path(v)),
                            Kind("absolute path", "required (docker)")] = Field(None, alias="storagePath")
    """The guide's STORAGE, on the Docker host; letters, digits and `._-/` only. Docker only (on Kubernetes the data is in volumes)."""
    concurrent_users: StrictInt = Field(alias="concurrentUsers", ge=1)
    """Concurrent users the site is sized for."""
    pathology: StrictBool = False
    """Digital pathology project (needs 1.5 cores per concurrent user)."""
    exams_per_day: StrictInt = Field(alias="examsPerDay", ge=0)
    """Daily exam load (the guide's sizing holds below 150 exams of 200 images)."""
    public_host: Annotated[Optional[str], Kind("host name", "the Docker host's name")] = Field(
        default=None, alias="publicHost")
    """Host name users type in their browser, used in the output URLs and checked against the certificate."""
    ring: Ring = "broad"
    """Rollout ring: upgrades reach canary sites first, then early, then broad (see Rollouts)."""


class HostSize(_Model):
    """The Docker host's size, as declared by the operator (checked against the vendor's sizing).
    Docker only: on Kubernetes the pods' requests follow from the sizing table."""

    cpu_cores: float = Field(alias="cpuCores", gt=0)
    """CPU cores (equivalent of a 7th-gen Intel i5 2.4 GHz core)."""
    memory_gb: float = Field(alias="memoryGb", gt=0)
    """RAM, in GB."""
    storage_gb: float = Field(alias="storageGb", gt=0)
    """Free space at the storage path, in GB."""
    network_mbps: float = Field(alias="networkMbps", gt=0)
    """Network bandwidth, in Mbit/s."""


ImageRef = Annotated[str, AfterValidator(_image_ref), Kind("image ref")]


class ImageRefs(_Model):
    """Full image references with a pinned tag (the guide's DB_IMAGE, PACS_IMAGE, VIEW_IMAGE)."""

    db: ImageRef = DEFAULT_DB_IMAGE
    """The guide's DB_IMAGE (MySQL)."""
    pacs: ImageRef
    """The guide's PACS_IMAGE, e.g. `europe-west1-docker.pkg.dev/o3-cloud-internal/partner/pacs-cloud:2.8.1` (the `{X.Y.Z}` placeholder is refused)."""
    view: ImageRef
    """The guide's VIEW_IMAGE."""
    proxy: ImageRef = DEFAULT_PROXY_IMAGE
    """The HTTPS front door (official nginx image), pulled only with `o3:tls.enabled`."""


class RegistrySettings(_Model):
    """Where the O3 images are pulled from when `o3:registryKey` is set."""

    server: Annotated[str, Kind("host")] = DEFAULT_REGISTRY
    """Registry to log in to: a bare host, no scheme (docker login's argument)."""
    username: str = "_json_key"
    """Registry user."""

    @field_validator("server")
    @classmethod
    def _no_scheme(cls, v: str) -> str:
        if "://" in v or "/" in v:
            raise ValueError(f"must be a bare registry host such as {DEFAULT_REGISTRY} (no scheme, no path)")
        return v


class NetworkSettings(_Model):
    """The guide's `o3net` bridge network."""

    name: str = "o3net"
    """Docker network name."""
    subnet: Annotated[str, Kind("IPv4 CIDR")] = "172.16.1.0/24"
    """The network's subnet, a /29 or larger."""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.match(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$", v):
            raise ValueError("must be a Docker network name: letters, digits, '_', '.', '-'")
        return v

    @field_validator("subnet")
    @classmethod
    def _subnet(cls, v: str) -> str:
        try:
            net = ipaddress.IPv4Network(v, strict=True)
        except ValueError as e:
            raise ValueError(f"must be an IPv4 CIDR such as 172.16.1.0/24 ({e})") from None
        if net.prefixlen > 29:
            raise ValueError("is too small: use a /29 or larger (a /24 is the guide's)")
        return v


class Ulimits(_Model):
    """The guide's ulimits for MySQL."""

    nproc: StrictInt = Field(65535, ge=1)
    """Processes MySQL may run."""
    nofile_soft: StrictInt = Field(26677, alias="nofileSoft", ge=1)
    """Open files, soft limit."""
    nofile_hard: StrictInt = Field(46677, alias="nofileHard", ge=1)
    """Open files, hard limit (at least nofileSoft)."""

    @model_validator(mode="after")
    def _soft_le_hard(self) -> "Ulimits":
        if self.nofile_soft > self.nofile_hard:
            raise ValueError("nofileSoft must not exceed nofileHard")
        return self


class DatabaseSettings(_Model):
    """The MySQL container."""

    publish: Annotated[str, Kind("`off` / `loopback` / IP")] = "off"
    """Publish MySQL's port on the host: 'off', 'loopback' (127.0.0.1) or a host IP address."""
    port: Port = 3306
    """Host port when published."""
    mysqld_flags: Annotated[list[str], Kind("list", "the guide's VARMYSQL")] = Field(
        default_factory=lambda: list(GUIDE_MYSQLD_FLAGS), alias="mysqldFlags")
    """mysqld flags, each starting with '--'."""
    ulimits: Ulimits = Ulimits()
    """MySQL's ulimits."""
    wait_timeout_seconds: StrictInt = Field(300, alias="waitTimeoutSeconds", ge=10)
    """How long `up` waits for MySQL to become healthy, in seconds."""
    stop_grace_seconds: StrictInt = Field(60, alias="stopGraceSeconds", ge=0)
    """Seconds MySQL gets to shut down cleanly before it is killed."""
    schema_retries: StrictInt = Field(30, alias="schemaRetries", ge=1)
    """Attempts (2 s apart) of the schema step while MySQL is still starting."""

    @field_validator("publish")
    @classmethod
    def _publish(cls, v: str) -> str:
        if v in ("off", "loopback"):
            return v
        try:
            ipaddress.ip_address(v)
        except ValueError:
            raise ValueError("must be 'off', 'loopback' or a host IP address such as 10.0.0.5") from None
        return v

    @field_validator("mysqld_flags")
    @classmethod
    def _flags(cls, v: list[str]) -> list[str]:
        bad = [f for f in v if not f.startswith("--")]
        if bad:
            raise ValueError(f"each flag must start with '--' (got {bad})")
        return v

    @property
    def publish_ip(self) -> Optional[str]:
        return {"off": None, "loopback": "127.0.0.1"}.get(self.publish, self.publish)


class PortSettings(_Model):
    """Host ports of the applications (container ports are fixed by the images)."""

    bind_address: Annotated[str, Kind("IP")] = Field("0.0.0.0", alias="bindAddress")
    """Host address the app ports are published on."""
    pacs_http: Port = Field(8080, alias="pacsHttp")
    """Host port of the PACS web port (container 8080)."""
    pacs_service: Port = Field(4568, alias="pacsService")
    """Host port of the PACS's second port (container 4568)."""
    view_http: Port = Field(8181, alias="viewHttp")
    """Host port of VIEW (container 8181)."""

    @field_validator("bind_address")
    @classmethod
    def _ip(cls, v: str) -> str:
        try:
            ipaddress.ip_address(v)
        except ValueError:
            raise ValueError("must be an IP address, e.g. 0.0.0.0 or 127.0.0.1") from None
        return v


# Variables the program sets from the guide, by o3:extraEnv key (sitespec/containers.py); extraEnv
# may not override them.
MANAGED_ENV = {c.extra_env_key: c.managed_env for c in containers.CONTAINERS.values()}


def _env_map(service: str):
    def check(v: dict[str, str]) -> dict[str, str]:
        for k in v:
            if not _ENV_NAME.match(k):
                raise ValueError(f"'{k}' is not a valid environment variable name")
            if k in MANAGED_ENV[service] or k == guide.PERIODIC_SERVICES_ENV:
                raise ValueError(f"'{k}' is set by the program from the vendor guide; remove it from extraEnv")
        return v

    return Annotated[dict[str, str], AfterValidator(check), Kind("map")]


class ExtraEnv(_Model):
    """Additional variables per container (the guide's `.env` gave everyone everything)."""

    db: _env_map("db") = {}
    """Extra variables for db; the guide's own variables cannot be overridden."""
    pacs: _env_map("pacs") = {}
    """Extra variables for pacs."""
    pacs_singleton: _env_map("pacsSingleton") = Field(default_factory=dict, alias="pacsSingleton")
    """Extra variables for pacs-singleton."""
    view: _env_map("view") = {}
    """Extra variables for view."""


_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class BackupSettings(_Model):
    """The pre-upgrade dumps and the nightly dump of both schemas."""

    retain: StrictInt = Field(10, ge=1)
    """How many pre-upgrade dumps to keep in `<storagePath>/backups`."""
    schedule: Annotated[str, Kind("`HH:MM`")] = "02:30"
    """Daily time of the nightly dump, HH:MM in o3:site.timezone."""
    retain_days: StrictInt = Field(14, alias="retainDays", ge=1)
    """Nightly dumps older than this many days are removed."""

    @field_validator("schedule")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not _HHMM.match(v):
            raise ValueError(f"must be a time of day HH:MM (24 h, site time zone), e.g. '02:30' (got '{v}')")
        return v


class LogSettings(_Model):
    """Bounds on what logs may take of the disk."""

    max_size_mb: StrictInt = Field(50, alias="maxSizeMb", ge=1)
    """Size of one Docker log file per container, in MB."""
    max_files: StrictInt = Field(5, alias="maxFiles", ge=1)
    """Docker log files kept per container."""
    retain_days: StrictInt = Field(30, alias="retainDays", ge=1)
    """Files in the pacs and view log folders older than this many days are removed."""


class TlsSettings(_Model):
    """The HTTPS front door: a reverse proxy terminating TLS for VIEW and the PACS web port."""

    enabled: StrictBool = False
    """Serve VIEW and the PACS web port over HTTPS (see HTTPS)."""
    view_port: Port = Field(443, alias="viewPort")
    """Host port of VIEW over HTTPS."""
    pacs_port: Port = Field(8443, alias="pacsPort")
    """Host port of the PACS web port over HTTPS."""
    certificate: Annotated[Optional[str], Kind("PEM")] = None
    """The site's certificate, leaf first (chain allowed); must cover `o3:site.publicHost`."""


class KubeReplicas(_Model):
    """How many pacs and view pods run; pacs-singleton is always exactly one."""

    pacs: Annotated[Optional[StrictInt], Kind("int ≥ 1", "from the sizing table")] = Field(None, ge=1)
    """pacs replicas; by default one per started 25 concurrent users, at least 2 (README: Large sites on Kubernetes)."""
    view: Annotated[Optional[StrictInt], Kind("int ≥ 1", "from the sizing table")] = Field(None, ge=1)
    """view replicas; by default as many as pacs."""


class KubeDatabaseSettings(_Model):
    """MySQL for a Kubernetes site: a StatefulSet in the site's namespace, or one the hospital runs."""

    external_host: Annotated[Optional[str], Kind("IP / host name", "none (in the cluster)")] = Field(
        None, alias="externalHost")
    """An existing MySQL's address; the apps still reach it as db:3306 (a Service named db). Unset: MySQL runs in the namespace."""
    external_port: Port = Field(3306, alias="externalPort")
    """That MySQL's port (with a host name, it must be 3306: an ExternalName Service cannot map ports)."""
    user: str = "root"
    """MySQL user of the connection strings (the guide's is root); its password is o3:dbPassword."""
    storage_gb: StrictInt = Field(20, alias="storageGb", ge=1)
    """Size of the in-cluster MySQL's volume, in GB."""
    storage_class: Annotated[Optional[str], Kind("name", "o3:kubernetes.storageClass")] = Field(None, alias="storageClass")
    """Storage class of that volume (ReadWriteOnce is enough; by default the data volume's class, which surely exists)."""

    @field_validator("user")
    @classmethod
    def _user(cls, v: str) -> str:
        if not re.match(r"^[A-Za-z0-9_.-]{1,32}$", v):
            raise ValueError("must be a MySQL user name: letters, digits, '_', '.', '-' (it goes into the connection strings)")
        return v

    @model_validator(mode="after")
    def _port_needs_ip(self) -> "KubeDatabaseSettings":
        host = self.external_host
        if host and self.external_port != 3306:
            try:
                ipaddress.ip_address(host)
            except ValueError:
                raise ValueError("o3:kubernetes.database.externalPort other than 3306 needs externalHost to be an IP "
                                 "address: the apps reach the database as db:3306 through a Service, and a Service for a "
                                 "host name (ExternalName) cannot change the port") from None
        return self


class KubernetesSettings(_Model):
    """Where and how the site runs on the hospital's Kubernetes cluster (the cluster itself is the
    kubernetes provider's config: kubernetes:kubeconfig, kubernetes:context)."""

    namespace: Annotated[Optional[str], AfterValidator(lambda v: v if v is None else _dns_label(v)),
                         Kind("DNS label", "the site's name")] = None
    """The site's namespace."""
    storage_class: Annotated[str, Kind("name")] = Field(alias="storageClass")
    """Storage class of the DICOM storage volume (with the log and shared-persist folders); it must offer ReadWriteMany, like the hospital's NAS."""
    storage_gb: StrictInt = Field(alias="storageGb", ge=1)
    """Size of that volume, in GB (the vendor asks for at least 50)."""
    replicas: KubeReplicas = KubeReplicas()
    """pacs and view replicas."""
    database: KubeDatabaseSettings = KubeDatabaseSettings()
    """MySQL: in the cluster, or external."""
    expose: Literal["NodePort", "LoadBalancer"] = "NodePort"
    """Service type by which users and modalities reach VIEW, the PACS web port and 4568 (plain TCP: never an HTTP Ingress)."""


class SiteConfig(_Model):
    """Everything the program reads from the stack, validated."""

    platform: Platform = "docker"
    """Where the site runs: `docker` (one Docker host) or `kubernetes` (the hospital's cluster; README: Large sites on Kubernetes)."""
    site: SiteSettings
    """Who the site is and where its data lives."""
    host: Optional[HostSize] = None
    """The Docker host's size."""
    images: ImageRefs
    """The images, each a full reference with a pinned tag."""
    registry: RegistrySettings = RegistrySettings()
    """The registry login."""
    # Secrets stay out of the model's repr: the program hands them out as Pulumi secrets only.
    registry_key: Annotated[Optional[str], Kind("secret", "none (no login)")] = Field(
        default=None, alias="registryKey", repr=False)
    """The registry's JSON key file content."""
    db_password: Annotated[Optional[str], Kind("secret", "generated")] = Field(
        default=None, alias="dbPassword", repr=False)
    """MySQL root password: 12-128 of `A-Za-z0-9_.@%+:,~^!#*-`; generated once and kept in state when absent."""
    network: NetworkSettings = NetworkSettings()
    """The Docker network."""
    database: DatabaseSettings = DatabaseSettings()
    """The MySQL container."""
    ports: PortSettings = PortSettings()
    """The applications' host ports."""
    extra_env: ExtraEnv = Field(default_factory=ExtraEnv, alias="extraEnv")
    """Extra variables per container."""
    backup: BackupSettings = BackupSettings()
    """Pre-upgrade and nightly dumps."""
    logs: LogSettings = LogSettings()
    """Log size and age limits."""
    tls: TlsSettings = TlsSettings()
    """The HTTPS front door."""
    tls_key: Annotated[Optional[str], Kind("secret")] = Field(default=None, alias="tlsKey", repr=False)
    """The certificate's private key (PEM, unencrypted); needed when `o3:tls.enabled`."""
    kubernetes: Optional[KubernetesSettings] = None
    """The Kubernetes site."""
    docker_host: Annotated[Optional[str], Kind("URL", "`DOCKER_HOST` / local socket")] = Field(
        default=None, alias="dockerHost")
    """The site's Docker host: `unix://…`, `tcp://…` or `ssh://user@host[:port]`."""
    ssh_opts: list[str] = Field(default_factory=list, alias="sshOpts")
    """Extra `ssh` arguments for an ssh:// host, e.g. `["-i", "/keys/site", "-o", "UserKnownHostsFile=/keys/known_hosts"]`; used by the docker provider, the folder/schema/backup steps and the ops commands alike."""

    @field_validator("ssh_opts")
    @classmethod
    def _ssh_opts(cls, v: list[str]) -> list[str]:
        for o in v:
            if "\n" in o or "\0" in o:
                raise ValueError("each ssh option must be one line")
        return v

    @model_validator(mode="after")
    def _ssh_opts_need_ssh(self) -> "SiteConfig":
        if self.ssh_opts and not (self.docker_host or "").startswith("ssh://"):
            raise ValueError("docker:sshOpts is set but docker:host is not an ssh:// URL; remove docker:sshOpts "
                             "or set docker:host to ssh://user@host")
        return self

    @field_validator("docker_host")
    @classmethod
    def _docker_host(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not re.match(r"^(unix|tcp|ssh|npipe)://.+", v):
            raise ValueError("docker:host must be unix:///path, tcp://host:port or ssh://user@host")
        return v

    @model_validator(mode="after")
    def _platform_keys(self) -> "SiteConfig":
        """Keys that only make sense on the other platform are refused, each named; each platform's
        own required keys are asked for."""
        problems = []
        if self.platform == "kubernetes":
            for key, is_set in platform_only_keys(self, "docker").items():
                if is_set:
                    problems.append(f"{key}: is for o3:platform docker only, and this stack sets o3:platform kubernetes; "
                                    "remove it (README: Large sites on Kubernetes)")
            if self.kubernetes is None:
                problems.append("o3:kubernetes: missing while o3:platform is kubernetes; set at least "
                                "o3:kubernetes.storageClass and .storageGb")
        else:
            if self.kubernetes is not None:
                problems.append("o3:kubernetes: is for o3:platform kubernetes only; remove it, or set o3:platform kubernetes")
            if self.host is None:
                problems.append("o3:host: missing; set it with `pulumi config set --path o3:host.cpuCores <value>` "
                                "(needs o3:host.cpuCores, .memoryGb, .storageGb, .networkMbps)")
            if self.site.storage_path is None:
                problems.append("o3:site.storagePath: missing; set it with `pulumi config set --path o3:site.storagePath /srv/o3`")
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @model_validator(mode="after")
    def _distinct_ports(self) -> "SiteConfig":
        used = [self.ports.pacs_http, self.ports.pacs_service, self.ports.view_http]
        if self.database.publish != "off":
            used.append(self.database.port)
        if self.tls.enabled:
            used += [self.tls.view_port, self.tls.pacs_port]
        if len(set(used)) != len(used):
            raise ValueError("o3:ports, o3:database.port and o3:tls.viewPort/pacsPort must all be different host ports")
        return self

    def tls_checks(self, key_unreadable: bool = False) -> tuple[list[str], list[str]]:
        """(errors, warnings) about o3:tls and o3:tlsKey; nothing when TLS is off.
        key_unreadable: the stack sets o3:tlsKey but the caller (an ops command) cannot decrypt it."""
        if not self.tls.enabled:
            return [], []
        errors = []
        if not self.tls.certificate:
            errors.append("o3:tls.certificate: missing while o3:tls.enabled is true; set it with "
                          "`pulumi config set --path o3:tls.certificate -- \"$(cat site.crt)\"`")
        if not self.tls_key and not key_unreadable:
            errors.append(f"o3:tlsKey: missing while o3:tls.enabled is true; set it with `{SECRET_KEYS['tlsKey']}`")
        if errors:
            return errors, []
        try:
            cert = tls.parse_certificate(self.tls.certificate or "")
        except tls.TlsProblem as e:
            return [f"o3:tls.certificate: {e}"], []
        if not self.tls_key:  # set, but not readable here: `pulumi up` checks the pair
            return [], []
        try:
            key = tls.public_key_of(self.tls_key)
        except tls.TlsProblem as e:
            return [f"o3:tlsKey: {e}"], []
        return tls.problems(cert, key, self.public_host_name)

    @property
    def warnings(self) -> list[str]:
        """What is allowed but needs the operator's attention soon."""
        return self.tls_checks()[1]

    @property
    def public_host_name(self) -> str:
        """Host users reach the site on: o3:site.publicHost, else the Docker host's name, else localhost."""
        if self.site.public_host:
            return self.site.public_host
        if self.docker_host and self.docker_host.startswith(("ssh://", "tcp://")):
            return urlparse(self.docker_host).hostname or "localhost"
        return "localhost"


def platform_only_keys(cfg: SiteConfig, platform: str) -> dict[str, bool]:
    """The keys that belong to `platform` only (docker), and whether the stack sets each."""
    assert platform == "docker"
    return {
        "docker:host": cfg.docker_host is not None,
        "docker:sshOpts": bool(cfg.ssh_opts),
        "o3:host": cfg.host is not None,
        "o3:network": "network" in cfg.model_fields_set,
        "o3:ports": "ports" in cfg.model_fields_set,
        "o3:site.storagePath": cfg.site.storage_path is not None,
        "o3:database.publish": "publish" in cfg.database.model_fields_set,
        "o3:database.port": "port" in cfg.database.model_fields_set,
        "o3:database.ulimits": "ulimits" in cfg.database.model_fields_set,
        "o3:logs.maxSizeMb": "max_size_mb" in cfg.logs.model_fields_set,
        "o3:logs.maxFiles": "max_files" in cfg.logs.model_fields_set,
    }


class ConfigError(ValueError):
    """One line per problem; the program hands it to the engine as a RunError (no traceback)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            "the stack config is not valid, nothing was deployed:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


def _field_name(alias: str) -> str:
    return next(n for n, f in SiteConfig.model_fields.items() if (f.alias or n) == alias)


def model_of(annotation: Any) -> Optional[type[BaseModel]]:
    """The model a field holds (X or Optional[X]), or None for a plain value."""
    for t in (annotation, *get_args(annotation)):
        if isinstance(t, type) and issubclass(t, BaseModel):
            return t
    return None


# Top-level keys holding an object (o3:site, o3:host, ...), with the model that reads each.
OBJECT_KEYS: dict[str, type[BaseModel]] = {
    f.alias or n: m for n, f in SiteConfig.model_fields.items() if (m := model_of(f.annotation)) is not None
}
# Top-level keys holding one plain value (not a secret).
VALUE_KEYS = ("platform",)
OPTIONAL_OBJECTS = {k for k in OBJECT_KEYS if not SiteConfig.model_fields[_field_name(k)].is_required()}
# Fields read from the docker provider's namespace, not `o3:`, and their keys there.
DOCKER_KEYS = {"dockerHost": "docker:host", "sshOpts": "docker:sshOpts"}
# The secret keys and how to set each.
SECRET_KEYS = {
    "dbPassword": "pulumi config set --secret o3:dbPassword <password>",
    "registryKey": "cat key.json | pulumi config set --secret o3:registryKey",
    "tlsKey": "cat site.key | pulumi config set --secret o3:tlsKey",
}


def _required_fields(key: str) -> str:
    """'o3:site.name, .timezone, ...': what a missing object needs at least."""
    model = OBJECT_KEYS.get(key)
    names = [f.alias or n for n, f in model.model_fields.items() if f.is_required()] if model else []
    return ", ".join([f"{PROJECT}:{key}.{names[0]}"] + [f".{n}" for n in names[1:]]) if names else ""


def _loc(loc: tuple[Any, ...]) -> str:
    head, *rest = [str(p) for p in loc]
    if head in DOCKER_KEYS:
        return DOCKER_KEYS[head] + "".join(f"[{p}]" for p in rest)
    return f"{PROJECT}:{head}" + "".join(f".{p}" for p in rest)


def _describe(err: dict[str, Any]) -> str:
    key = _loc(err["loc"]) if err["loc"] else f"{PROJECT}:"
    kind, msg = err["type"], err["msg"]
    if kind == "missing":
        hint = _required_fields(str(err["loc"][0])) if len(err["loc"]) == 1 else ""
        return f"{key}: missing; set it with `pulumi config set --path {key} <value>`" + (
            f" (needs {hint})" if hint else ""
        )
    if kind == "extra_forbidden":
        return f"{key}: unknown key; check the spelling against the README's config table"
    if kind == "value_error":
        msg = msg.removeprefix("Value error, ")
    # pydantic's own messages never echo the value here: secrets are not validated by pydantic.
    if not err["loc"]:  # a check across keys: its message names them
        return msg
    return f"{key}: {msg}"


def parse(
    raw: dict[str, Any],
    secret_keys: set[str] | frozenset[str] = frozenset(),
    docker_host: Optional[str] = None,
    ssh_opts: Any = None,
) -> SiteConfig:
    """Validate raw config (`{"site": {...}, "dbPassword": "...", ...}`, keys without `o3:`).

    `secret_keys` are the short names set with --secret; `docker_host` is `docker:host`.
    Raises ConfigError listing every problem.
    """
    problems: list[str] = []
    data: dict[str, Any] = {"dockerHost": docker_host} if docker_host else {}
    if ssh_opts not in (None, "", []):
        if isinstance(ssh_opts, str):
            try:
                ssh_opts = json.loads(ssh_opts)
            except json.JSONDecodeError:
                ssh_opts = None
        if isinstance(ssh_opts, list) and all(isinstance(o, str) for o in ssh_opts):
            data["sshOpts"] = ssh_opts
        else:
            problems.append('docker:sshOpts: must be a list of ssh arguments, e.g. ["-i", "/keys/site", '
                            '"-o", "UserKnownHostsFile=/keys/known_hosts"]')
    for key, value in raw.items():
        if key in SECRET_KEYS:
            if value == "":  # Pulumi.yaml's default: not set
                continue
            problems += _check_secret(key, value, key in secret_keys)
            data[key] = value
        elif key in VALUE_KEYS:
            data[key] = value
        elif key in OBJECT_KEYS:
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except json.JSONDecodeError:
                    problems.append(f"{PROJECT}:{key}: must be an object; set its fields with --path, e.g. "
                                    f"{_required_fields(key) or f'{PROJECT}:{key}.<field>'}")
                    continue
            if not isinstance(value, dict):
                problems.append(f"{PROJECT}:{key}: must be an object with named fields, not {type(value).__name__}")
                continue
            if value == {} and key in OPTIONAL_OBJECTS:  # Pulumi.yaml's default: not set
                continue
            data[key] = value
        else:
            problems.append(f"{PROJECT}:{key}: unknown key; check the spelling against the README's config table")
    try:
        cfg = SiteConfig.model_validate(data)
    except ValidationError as e:
        problems += [line for err in e.errors(include_input=False) for line in _describe(err).split("\n")]
        cfg = None
    if cfg is not None and not problems:
        problems += cfg.tls_checks(key_unreadable="tlsKey" in secret_keys and not raw.get("tlsKey"))[0]
    if problems:
        raise ConfigError(problems)
    assert cfg is not None
    return cfg


def is_registry_key(text: str) -> bool:
    """Whether `text` looks like the registry's JSON key file (an object), for config and preflight."""
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _check_secret(key: str, value: Any, is_secret: bool) -> list[str]:
    how = SECRET_KEYS[key]
    if not isinstance(value, str) or not value:
        return [f"{PROJECT}:{key}: must be a non-empty string; set it with `{how}`"]
    problems = []
    if not is_secret:
        problems.append(f"{PROJECT}:{key}: is stored in plain text; remove it and set it again with `{how}`")
    if key == "dbPassword" and not _PASSWORD.match(value):
        problems.append(
            f"{PROJECT}:dbPassword: must be 12-128 characters of letters, digits and _ . @ % + : , ~ ^ ! # * - "
            "(it goes into the vendor's ';'-separated connection strings); omit it to have one generated"
        )
    if key == "tlsKey":
        try:
            tls.public_key_of(value)
        except tls.TlsProblem as e:
            problems.append(f"{PROJECT}:tlsKey: {e}; set it with `{how}`")
    if key == "registryKey" and not is_registry_key(value):
            problems.append(f"{PROJECT}:registryKey: is not the JSON key file's content; set it with `{how}`")
    return problems
