"""The site facts the policy pack reads: the record the program registers, the resource names
the pack finds things by, and the platform-neutral facts the rules check.

A Python component's inputs never reach the policy engine in a real run (pulumi/pulumi#10533),
so the program puts these facts on a real resource: a `random.RandomId` named
`<site>-site-facts` whose `keepers` carry them, as strings.

Standard library only: the policy pack imports this module in its own virtualenv.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from .config import SiteConfig

FACTS_KIND = "o3-site-facts"
FACTS_SUFFIX = "-site-facts"
DB_IMAGE_SUFFIX = "-db-image"  # the MySQL image is the RemoteImage named `<site>-db-image`


def site_facts(cfg: "SiteConfig") -> dict[str, str]:
    """What the policy pack needs to know about the site, as strings (RandomId keepers). A
    Kubernetes site has no host of its own: its size is its pods' requests, which the pack reads
    from the workloads; `platform` says which (a Docker site's record has no `platform`)."""
    s, h = cfg.site, cfg.host
    if cfg.platform == "kubernetes":
        assert cfg.kubernetes is not None
        return {
            "kind": FACTS_KIND,
            "platform": "kubernetes",
            "site": s.name,
            "concurrentUsers": str(s.concurrent_users),
            "pathology": "true" if s.pathology else "false",
            "examsPerDay": str(s.exams_per_day),
            "storageGb": str(cfg.kubernetes.storage_gb),
        }
    assert h is not None and s.storage_path is not None
    return {
        "kind": FACTS_KIND,
        "site": s.name,
        "concurrentUsers": str(s.concurrent_users),
        "pathology": "true" if s.pathology else "false",
        "examsPerDay": str(s.exams_per_day),
        "hostCpuCores": f"{h.cpu_cores:g}",
        "hostMemoryGb": f"{h.memory_gb:g}",
        "hostStorageGb": f"{h.storage_gb:g}",
        "hostNetworkMbps": f"{h.network_mbps:g}",
        "storagePath": s.storage_path,
    }


# --- The site as the policy rules read it: the same facts on every platform -------------------
# policy/platforms/docker.py and policy/platforms/kubernetes.py extract them from what the engine
# sends; a rule reads only these, so no rule knows which platform it checks. A platform's
# wording (a config key, a kind of volume) arrives as text the adapter writes.

# A variable name that says its value is a secret.
SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|PWD|SECRET|TOKEN|_KEY)$", re.I)


@dataclass(frozen=True)
class Record:
    """The site-facts record, read back: what the site is sized for."""

    site: str
    concurrent_users: int
    pathology: bool
    exams_per_day: int
    storage_path: Optional[str]
    """The host folder that holds the data (Docker); None where the data is in volume claims."""


@dataclass(frozen=True)
class Capacity:
    """What the site has of one sizing dimension (an o3:host key): the declared host on Docker,
    the pods' requests and the data volume on Kubernetes."""

    value: float
    said: str
    """How a message says it; `{}` is the figure with its unit ("the pods request {}")."""
    unreadable: tuple[str, ...] = ()
    """The values that could not be read (each names its resource and value): `value` leaves them out."""


@dataclass(frozen=True)
class Mount:
    path: str
    """The mount point inside the container."""
    durable: bool
    """On the site's data storage: outlives the container or pod, its replacement and `destroy`."""
    where: str
    """What a message says of it when not durable ("is on a emptyDir volume, not a PersistentVolumeClaim")."""
    risk: str
    """What becomes of data there."""


@dataclass(frozen=True)
class Confinement:
    """How a container is confined from the node, as its platform says (Kubernetes' securityContext)."""

    escalation: bool
    """A process in it may gain privileges (setuid files, a privileged container)."""
    dropped_all: bool
    """Every capability is dropped first."""
    added: tuple[str, ...]
    """The capabilities added back (or kept), by name without CAP_."""
    seccomp: Optional[str]
    """The seccomp profile in force ("RuntimeDefault", "Localhost", "Unconfined"); None: not set (on
    Kubernetes that means Unconfined)."""


@dataclass(frozen=True)
class ContainerFacts:
    name: str
    image: Optional[str]
    """The image reference it runs, where the resource names one (a Docker container runs an image id)."""
    env: Optional[dict[str, Optional[str]]]
    """Variable -> literal value (None: read from a secret); None while not known (preview)."""
    literals_shown_in: Optional[str]
    """Where anyone who may read the workload sees the literal values; None where the env as a whole
    is kept secret or checked as one field."""
    mounts: tuple[Mount, ...] = ()
    confinement: Optional[Confinement] = None
    """None where the platform's facts do not say (Docker: the rules that read it are Kubernetes only)."""


@dataclass(frozen=True)
class Workload:
    """Something the site runs: a Docker container, a Deployment, StatefulSet, Job or CronJob."""

    name: str
    noun: str
    """How messages name it: "container" or "workload"."""
    running: bool
    """Runs all the time (not a one-off or scheduled job)."""
    replicas: int
    containers: tuple[ContainerFacts, ...]
    urn: str
    overlapping_rollout: Optional[str] = None
    """What lets a rollout run the new copy beside the old ("strategy RollingUpdate"); None: never."""
    removes_volumes: bool = False
    unbounded_log: Optional[str] = None
    """Why its log can grow until the disk is full; None when bounded or not the site's to bound."""
    api_token: Optional[bool] = None
    """Its pods get a credential for the platform's API (a mounted service-account token); None: no
    such thing on the platform."""
    unbounded_job: Optional[str] = None
    """Why a one-off or scheduled job can run (and hold its resources, or block the next run) for
    ever, or take any amount of a node; None when bounded or not a job."""

    @property
    def title(self) -> str:
        return f"{self.noun} '{self.name}'"


@dataclass(frozen=True)
class Published:
    """A port the site serves beyond its own network."""

    service: str
    """The container or Service that publishes it."""
    ports: tuple[int, ...]
    """The numbers it goes by: a container's port; a Service's port and targetPort."""
    scope: str
    """"loopback", "address" (one of the host's addresses) or "everywhere"."""
    how: str
    """A clause with `{port}`: "Service 'db' (NodePort) serves {port} to the network"."""
    urn: str


@dataclass(frozen=True)
class Image:
    ref: str
    urn: str


@dataclass(frozen=True)
class Volume:
    """A volume the platform deletes with its data unless it is protected."""

    title: str
    protected: bool
    urn: str


@dataclass(frozen=True)
class Command:
    """A command the deployment runs on a host (create, update, delete steps)."""

    name: str
    text: str
    deletes: bool
    urn: str


@dataclass(frozen=True)
class Text:
    """A string a resource shows to whoever may read that resource, its command lines or its logs."""

    owner: str
    path: str
    """Where in the resource ("create", "envs[2]", "spec.template.spec.containers[0].args[1]")."""
    text: str
    urn: str
    command: bool = False
    """A command line: it shows up in `ps`, logs and error messages."""
    password_flags: bool = False
    """A password-looking flag (`-pX`, `--password=`, `password=`) counts as a secret here."""
    fix: str = ""
    """How to keep a secret out of it (for a field that is not a command line)."""


@dataclass(frozen=True)
class Isolation:
    """Who may reach the site's pods, where the platform has network policies (Kubernetes)."""

    default_deny: bool
    """A policy over every pod of the site denies what no other policy allows (ingress and egress)."""
    db_open: tuple[str, ...]
    """What lets any pod (or anyone) reach MySQL's port: each names its policy and rule."""
    db_guarded: bool
    """A policy admits MySQL's port only from pods it names (False with MySQL in the site and no such policy)."""


@dataclass
class SiteFacts:
    """Everything the rules read. Values not known yet (preview) are left out, never guessed."""

    record: Optional[Record] = None
    capacity: dict[str, Capacity] = field(default_factory=dict)
    """By o3:host key (cpuCores, memoryGb, storageGb, networkMbps); absent where the platform has no
    counterpart or the figure is not known yet."""
    workloads: list[Workload] = field(default_factory=list)
    published: list[Published] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    """Every image reference the resources pull or run."""
    db_image: Optional[Image] = None
    """The MySQL image the site runs; None with an external MySQL."""
    volumes: list[Volume] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)
    """The site's secret values, found where they are meant to be."""
    texts: list[Text] = field(default_factory=list)
    isolation: Optional[Isolation] = None
    """None where the platform has no network policies (Docker: the site's bridge network o3net)."""
