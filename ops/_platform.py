"""The seam between the commands that check a site (preflight, verify) and its platform.

Each platform (ops/_docker.py, ops/_kubernetes.py) implements `Platform`: its own preflight, the
facts that verify's shared checks read (the apps and their images, the singletons, a SQL query,
the apps' answers, the nightly dumps), and the few checks only it can make. ops.verify writes
the shared checks once, over those facts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Optional, Union

from sitespec.config import SiteConfig
from sitespec.guide import DB_PASSWORD_FILE

from ._checks import FAIL, Check
from ._site import Exec

Step = tuple[str, Callable[[], Union[Check, list[Check], None]]]
"""A check as verify runs it: the name it is reported under if it breaks, and the check."""


class Unavailable(Exception):
    """A fact that cannot be read, and why: the check that needed it reports this line."""

    def __init__(self, measured: str, fix: str = "", status: str = FAIL):
        super().__init__(measured)
        self.measured, self.fix, self.status = measured, fix, status

    def check(self, name: str) -> Check:
        return Check(name, self.status, self.measured, self.fix)


@dataclass(frozen=True)
class App:
    """One of the site's apps as its platform runs it (it is up: `Platform.app` raises otherwise)."""

    image: str
    """What it runs, comparable with `wanted`: an image id on Docker, a reference on Kubernetes."""
    wanted: str
    """The declared reference, resolved the same way."""
    shown: str
    """What it runs, as a message names it."""
    wanted_shown: str
    """The declared image, as a message names it."""
    up: str
    """What a pass says ("running mysql:8.0.34 (sha256:…)", "2/2 ready on 2.8.1")."""


@dataclass(frozen=True)
class Reply:
    """What an app said to one GET."""

    answered: bool
    status: Optional[int] = None
    """The HTTP status; None when the way in does not tell it (the API server's service proxy)."""
    reason: str = ""
    """Why it did not answer."""
    hsts: bool = False
    """It sent Strict-Transport-Security."""


@dataclass(frozen=True)
class Answer:
    """One of the site's apps, reached the way its users reach it (or as close as the platform allows)."""

    name: str
    """The check's name ("view http", "pacs https")."""
    target: str
    """Where it is asked, as a message names it (a URL, "Service pacs:8080")."""
    get: Callable[[], Reply]
    fix: str


@dataclass(frozen=True)
class Nightly:
    """The nightly dumps as the platform records them."""

    since: float
    """When the nightly dumps began (the maintenance container's start, the CronJob's creation), epoch seconds."""
    logs: str
    """Where to read what the nightly runs said."""
    newest: Optional[float] = None
    """When the newest nightly dump was written, epoch seconds; None: none yet."""
    newest_name: str = ""
    failed: Optional[tuple[str, str]] = None
    """The last nightly run failed: when, and what it said."""


def mysql_command(sql: str) -> list[str]:
    """`sql` run by MySQL's root in the db container; the password never leaves the container (its
    own password file feeds MYSQL_PWD)."""
    return ["sh", "-c", f'MYSQL_PWD="$(cat {DB_PASSWORD_FILE})" mysql -uroot -N -e "{sql}"']


class Platform(ABC):
    """A site's platform as preflight and verify see it. Made without touching the platform:
    `preflight` reaches it itself, verify calls `connect` before any fact."""

    unit: str
    """What runs one app: "container", "pod"."""
    listing: str
    """The command that lists what runs ("`docker ps` on the host")."""

    def __init__(self, cfg: SiteConfig):
        self.cfg = cfg

    @abstractmethod
    def preflight(self) -> list[Check]:
        """Whether the platform can take the site, before `pulumi up`; an unreachable platform is
        the first check and the only one."""

    @abstractmethod
    def connect(self) -> None:
        """Reach the deployed site (OpsError when it cannot be reached)."""

    @abstractmethod
    def declared(self) -> dict[str, str]:
        """The apps the site runs -> the image reference the stack declares for each."""

    @abstractmethod
    def app(self, name: str, ref: str) -> App:
        """The app as it runs; Unavailable when it is missing or not up."""

    @abstractmethod
    def singletons(self) -> list[str]:
        """Where each running pacs-singleton runs (a container's or a node's name)."""

    @abstractmethod
    def sql(self, query: str) -> Exec:
        """The query's result, from the site's MySQL; Unavailable when it cannot be asked."""

    @abstractmethod
    def answers(self) -> list[Answer]:
        """pacs and view, each as its users reach it."""

    @abstractmethod
    def nightly(self) -> Nightly:
        """The nightly dumps; Unavailable when nothing takes them."""

    def offsite_status(self) -> Optional[dict]:
        """The site side's last off-site run (sitespec.offsite.STATUS_FILE: {} when none yet); None
        when this platform does not read it."""
        return None

    # The checks only this platform makes, where they stand in verify's report.

    def before_schemas(self) -> list[Step]:
        return []

    def after_answers(self) -> list[Step]:
        return []

    def after_backup(self) -> list[Step]:
        return []
