"""The stack config's models: every key, its type, its default (the vendor guide's values,
`../shared/spec/vendor-install-guide.txt`) and its checks, one field each.

Each field's docstring is its description: `python -m ops.schema --write` generates `Pulumi.yaml`'s
declarations and the README's key table from these models. A field's metadata says the rest:
`OnlyOn` which platform owns it (sitespec.config.platforms refuses it on the other), `ProviderKey`
a key outside `o3:`, `Kind` how the table names its type.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal, Optional, get_args, get_origin
from urllib.parse import urlparse

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Json,
    StrictBool,
    StrictInt,
    TypeAdapter,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from .. import containers, tls
from . import platforms
from .fields import ImageRef, Kind, OnlyOn, Port, ProviderKey, abs_path, dns_label, model_of, time_zone
from .secret_keys import SECRET_KEYS

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
# The official restic image, pinned: the off-host backups (o3:offsite) run in it.
DEFAULT_RESTIC_IMAGE = "restic/restic:0.18.1"

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_JSON_TEXT = TypeAdapter(Json[Any])


class _Model(BaseModel):
    # Unknown keys are typos until proven otherwise; a field's docstring is its description.
    model_config = ConfigDict(extra="forbid", populate_by_name=False, frozen=True, use_attribute_docstrings=True)


Ring = Literal["canary", "early", "broad"]
RINGS: tuple[str, ...] = get_args(Ring)  # rollout order
Platform = Literal["docker", "kubernetes"]
PLATFORMS: tuple[str, ...] = get_args(Platform)


class SiteSettings(_Model):
    """Who the site is and where its data lives."""

    name: Annotated[str, AfterValidator(dns_label), Kind("DNS label")]
    """The site's name (labels, messages): lower-case letters, digits and '-'."""
    timezone: Annotated[str, AfterValidator(time_zone), Kind("IANA name")]
    """IANA time zone, e.g. Europe/Rome; becomes TZ in every container."""
    storage_path: Annotated[Optional[str], AfterValidator(lambda v: v if v is None else abs_path(v)),
                            Kind("absolute path"), OnlyOn("docker", required=True)] = Field(
        None, alias="storagePath", examples=["/srv/o3"])
    """The guide's STORAGE, on the Docker host; letters, digits and `._-/` only (on Kubernetes the data is in volumes)."""
    concurrent_users: StrictInt = Field(alias="concurrentUsers", ge=1)
    """Concurrent users the site is sized for."""
    pathology: StrictBool = False
    """Digital pathology project (needs 1.5 cores per concurrent user)."""
    exams_per_day: StrictInt = Field(alias="examsPerDay", ge=0)
    """Daily exam load (the guide's sizing holds below 150 exams of 200 images)."""
    public_host: Annotated[Optional[str], Kind(
        "host name", "the host of an `ssh://` or `tcp://` `docker:host`, else `localhost`")] = Field(
        default=None, alias="publicHost")
    """Host name users type in their browser, used in the output URLs and checked against the certificate."""
    ring: Ring = "broad"
    """Rollout ring: upgrades reach canary sites first, then early, then broad (see Rollouts)."""
    ci: StrictBool = True
    """Whether CI previews, rolls out and drift-checks the site (`false`: a site deployed by hand only, such as a developer's `dev`; `ops.stacks` names every stack that is neither)."""


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
    restic: ImageRef = DEFAULT_RESTIC_IMAGE
    """The off-host backups' image (official restic image), pulled only with `o3:offsite`."""


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

    publish: Annotated[str, Kind("`off` / `loopback` / IP"), OnlyOn("docker")] = "off"
    """Publish MySQL's port on the host: 'off', 'loopback' (127.0.0.1) or a host IP address."""
    port: Annotated[Port, OnlyOn("docker")] = 3306
    """Host port when published."""
    mysqld_flags: Annotated[list[str], Kind("list", "the guide's VARMYSQL")] = Field(
        default_factory=lambda: list(GUIDE_MYSQLD_FLAGS), alias="mysqldFlags")
    """mysqld flags, each starting with '--'."""
    ulimits: Annotated[Ulimits, OnlyOn("docker")] = Ulimits()
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
            if k in MANAGED_ENV[service]:
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


_REPOSITORY = re.compile(r"^(sftp:[^\s@/]+@[^\s:/]+:\S+|rest:https://[^\s/@]+(/\S*)?|s3:\S+)$")
_REPOSITORY_HELP = ("must be `sftp:USER@HOST:/PATH`, `rest:https://HOST:PORT/PATH` or `s3:...` "
                    "(no password in it: it goes in o3:offsitePassword / o3:offsiteHttpPassword)")


def repository(v: str) -> str:
    """A restic repository this program can reach from a site: sftp, rest over HTTPS, s3."""
    if "\n" in v or not _REPOSITORY.match(v):
        raise ValueError(f"{_REPOSITORY_HELP} (got '{v[:80]}')")
    if v.startswith("rest:") and urlparse(v[len("rest:"):]).password is not None:
        raise ValueError("holds a password: put it in o3:offsiteHttpPassword (a secret) instead")
    return v


Repository = Annotated[str, AfterValidator(repository), Kind("restic repository")]


class OffsiteRetention(_Model):
    """How many snapshots the operator's prune keeps (restic forget --keep-*), per kind of snapshot."""

    keep_daily: StrictInt = Field(7, alias="keepDaily", ge=0)
    """Daily snapshots kept."""
    keep_weekly: StrictInt = Field(5, alias="keepWeekly", ge=0)
    """Weekly snapshots kept."""
    keep_monthly: StrictInt = Field(12, alias="keepMonthly", ge=0)
    """Monthly snapshots kept."""
    keep_yearly: StrictInt = Field(7, alias="keepYearly", ge=0)
    """Yearly snapshots kept."""

    @model_validator(mode="after")
    def _keeps_something(self) -> "OffsiteRetention":
        if not (self.keep_daily or self.keep_weekly or self.keep_monthly or self.keep_yearly):
            raise ValueError("keeps no snapshot at all: set at least one of keepDaily, keepWeekly, keepMonthly, keepYearly above 0")
        return self


class OffsiteOperator(_Model):
    """The operator's own access to the repository (prune, check, drill, recover); never sent to the site host."""

    repository: Annotated[Optional[str], AfterValidator(lambda v: v if v is None else repository(v)),
                          Kind("restic repository", "o3:offsite.repository")] = None
    """The repository as the operator reaches it, e.g. a rest-server instance that is not append-only."""
    http_user: Optional[str] = Field(None, alias="httpUser")
    """The operator's rest-server user (its password: o3:offsiteOperatorHttpPassword)."""


class OffsiteSettings(_Model):
    """Encrypted, deduplicated copies off the site's host with restic (README: Backups and disaster recovery)."""

    repository: Repository
    """The restic repository: `sftp:USER@HOST:/PATH`, `rest:https://HOST:PORT/PATH` (append-only) or `s3:...`; its password is o3:offsitePassword."""
    http_user: Optional[str] = Field(None, alias="httpUser")
    """rest: the site's rest-server user (its password: o3:offsiteHttpPassword)."""
    known_hosts: Annotated[Optional[str], Kind("known_hosts lines")] = Field(None, alias="knownHosts")
    """sftp: the repository host's `known_hosts` line(s) (its key: o3:offsiteSshKey)."""
    ca_cert: Annotated[Optional[str], Kind("PEM")] = Field(None, alias="caCert")
    """rest: the CA that signed the repository server's certificate, when it is a private one."""
    schedule: Annotated[Optional[str], Kind("`HH:MM`", "30 minutes after o3:backup.schedule")] = None
    """Daily time of the off-host backup, HH:MM in o3:site.timezone."""
    retention: OffsiteRetention = OffsiteRetention()
    """What the operator's prune keeps."""
    rpo_hours: StrictInt = Field(26, alias="rpoHours", ge=1)
    """The largest age, in hours, the newest off-host snapshot may reach (ops.verify, rollouts)."""
    operator: OffsiteOperator = OffsiteOperator()
    """The operator's access (prune, check, drill, recover)."""

    @field_validator("schedule")
    @classmethod
    def _hhmm(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not _HHMM.match(v):
            raise ValueError(f"must be a time of day HH:MM (24 h, site time zone), e.g. '03:00' (got '{v}')")
        return v

    @field_validator("ca_cert")
    @classmethod
    def _pem(cls, v: Optional[str]) -> Optional[str]:
        if v is not None:
            try:
                tls.parse_certificate(v)
            except tls.TlsProblem as e:
                raise ValueError(str(e)) from None
        return v

    @property
    def scheme(self) -> str:
        """sftp, rest or s3."""
        return self.repository.split(":", 1)[0]

    @property
    def endpoint(self) -> tuple[str, int]:
        """(host, port) the site's backup reaches: what a Kubernetes site's NetworkPolicy opens."""
        rest = self.repository.split(":", 1)[1]
        if self.scheme == "sftp":  # USER@HOST:/PATH
            return rest.split("@", 1)[1].split(":", 1)[0], 22
        url = urlparse(rest if "://" in rest else f"https://{rest}")  # s3:HOST/BUCKET is https
        return url.hostname or "", url.port or (80 if url.scheme == "http" else 443)

    def schedule_after(self, backup_schedule: str) -> str:
        """o3:offsite.schedule, by default 30 minutes after the nightly dump."""
        if self.schedule:
            return self.schedule
        h, m = map(int, backup_schedule.split(":"))
        t = (h * 60 + m + 30) % (24 * 60)
        return f"{t // 60:02d}:{t % 60:02d}"


class LogSettings(_Model):
    """Bounds on what logs may take of the disk."""

    max_size_mb: Annotated[StrictInt, OnlyOn("docker")] = Field(50, alias="maxSizeMb", ge=1)
    """Size of one Docker log file per container, in MB."""
    max_files: Annotated[StrictInt, OnlyOn("docker")] = Field(5, alias="maxFiles", ge=1)
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

    namespace: Annotated[Optional[str], AfterValidator(lambda v: v if v is None else dns_label(v)),
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
    node_loss_seconds: StrictInt = Field(60, alias="nodeLossSeconds", ge=1)
    """Seconds the apps' pods wait for a node that is not ready or unreachable before they start elsewhere (Kubernetes' default: 300); db waits for `.venv/bin/python -m ops.fence` (README: Large sites on Kubernetes)."""


class SiteConfig(_Model):
    """Everything the program reads from the stack, validated."""

    platform: Platform = "docker"
    """Where the site runs: `docker` (one Docker host) or `kubernetes` (the hospital's cluster; README: Large sites on Kubernetes)."""
    site: SiteSettings
    """Who the site is and where its data lives."""
    host: Annotated[Optional[HostSize], OnlyOn("docker", required=True)] = None
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
    network: Annotated[NetworkSettings, OnlyOn("docker")] = NetworkSettings()
    """The Docker network."""
    database: DatabaseSettings = DatabaseSettings()
    """The MySQL container."""
    ports: Annotated[PortSettings, OnlyOn("docker")] = PortSettings()
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
    offsite: Optional[OffsiteSettings] = None
    """Off-host backups with restic (absent: none)."""
    offsite_password: Annotated[Optional[str], Kind("secret")] = Field(default=None, alias="offsitePassword", repr=False)
    """The restic repository's password; needed with `o3:offsite`. Lost password, lost backups: keep a copy away from the site."""
    offsite_http_password: Annotated[Optional[str], Kind("secret")] = Field(
        default=None, alias="offsiteHttpPassword", repr=False)
    """The site's rest-server password (o3:offsite.httpUser); needed with a `rest:` repository."""
    offsite_ssh_key: Annotated[Optional[str], Kind("secret")] = Field(default=None, alias="offsiteSshKey", repr=False)
    """The site's SSH private key for an `sftp:` repository (OpenSSH PEM)."""
    offsite_operator_http_password: Annotated[Optional[str], Kind("secret")] = Field(
        default=None, alias="offsiteOperatorHttpPassword", repr=False)
    """The operator's rest-server password (o3:offsite.operator.httpUser); read by ops commands only."""
    offsite_operator_ssh_key: Annotated[Optional[str], Kind("secret")] = Field(
        default=None, alias="offsiteOperatorSshKey", repr=False)
    """The operator's SSH private key for an `sftp:` repository; read by ops commands only."""
    kubernetes: Annotated[Optional[KubernetesSettings], OnlyOn("kubernetes", required=True)] = None
    """The Kubernetes site."""
    docker_host: Annotated[Optional[str], Kind("URL", "`DOCKER_HOST` / local socket"), OnlyOn("docker"),
                           ProviderKey("docker:host")] = Field(default=None, alias="dockerHost",
                                                               examples=["ssh://o3@pacs01"])
    """The site's Docker host: `unix://…`, `tcp://…` or `ssh://user@host[:port]`."""
    ssh_opts: Annotated[list[str], OnlyOn("docker"), ProviderKey("docker:sshOpts")] = Field(
        default_factory=list, alias="sshOpts", examples=[["-i", "/keys/site", "-o", "UserKnownHostsFile=/keys/known_hosts"]])
    """Extra `ssh` arguments for an ssh:// host, e.g. `["-i", "/keys/site", "-o", "UserKnownHostsFile=/keys/known_hosts"]`; used by the docker provider, the folder/schema/backup steps and the ops commands alike."""

    @field_validator("*", mode="wrap")
    @classmethod
    def _json_text(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        """The CLI hands an object or a list over as JSON text: pydantic reads it, its errors under the key."""
        f = cls.model_fields[info.field_name]
        if isinstance(value, str) and (model_of(f.annotation) or get_origin(f.annotation) is list):
            value = _JSON_TEXT.validate_python(value)
        return handler(value)

    @field_validator("ssh_opts")
    @classmethod
    def _ssh_opts(cls, v: list[str]) -> list[str]:
        for o in v:
            if "\n" in o or "\0" in o:
                raise ValueError("each ssh option must be one line")
        return v

    @model_validator(mode="after")
    def _platform_keys(self) -> "SiteConfig":
        """Keys of the other platform are refused, each named; the platform's own required keys are asked for.
        First: the checks after it are about keys it may have refused."""
        if problems := platforms.problems(self, self.platform):
            raise ValueError("\n".join(problems))
        return self

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

    def offsite_checks(self, is_set: set[str]) -> list[str]:
        """What o3:offsite needs besides itself, each line naming the key; `is_set` holds the secret keys
        the stack sets (a command that cannot decrypt them still knows they are there)."""
        o = self.offsite
        if o is None:
            stray = sorted(k for k in is_set if k.startswith("offsite"))
            return [f"o3:{k}: is set but o3:offsite is not; set o3:offsite.repository or remove o3:{k}" for k in stray]
        problems = []
        if "offsitePassword" not in is_set:
            problems.append(f"o3:offsitePassword: missing while o3:offsite is set; set it with `{SECRET_KEYS['offsitePassword']}`")
        if o.scheme == "rest":
            if not o.http_user:
                problems.append("o3:offsite.httpUser: missing for a rest: repository (the site's rest-server user)")
            if "offsiteHttpPassword" not in is_set:
                problems.append("o3:offsiteHttpPassword: missing for a rest: repository; set it with "
                                f"`{SECRET_KEYS['offsiteHttpPassword']}`")
        elif "offsiteHttpPassword" in is_set or o.http_user:
            problems.append(f"o3:offsite.httpUser / o3:offsiteHttpPassword: only for a rest: repository (this one is {o.scheme}:)")
        if o.scheme == "sftp":
            if "offsiteSshKey" not in is_set:
                problems.append(f"o3:offsiteSshKey: missing for an sftp: repository; set it with `{SECRET_KEYS['offsiteSshKey']}`")
            if not o.known_hosts:
                problems.append("o3:offsite.knownHosts: missing for an sftp: repository (the repository host's "
                                "known_hosts line, so the site never trusts an unknown host)")
        elif "offsiteSshKey" in is_set or o.known_hosts:
            problems.append(f"o3:offsiteSshKey / o3:offsite.knownHosts: only for an sftp: repository (this one is {o.scheme}:)")
        if o.ca_cert and o.scheme != "rest":
            problems.append(f"o3:offsite.caCert: only for a rest: repository (this one is {o.scheme}:)")
        return problems

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
