"""The vendor guide's containers, each described once: its image, variables (literal, secret, the
ones a site may add), mounts, ports, probe and stop grace. Nothing here names Docker or Kubernetes:
`components/docker/` and `components/kubernetes/` render it, and the stack config's refusal of
overridden variables (sitespec.config.MANAGED_ENV) derives from it.

Standard library only, like sitespec/guide.py: the policy pack may read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, Optional

from .guide import (
    DB_CONTAINER,
    DB_PASSWORD_FILE,
    MOUNTS,
    MYSQL_PORT,
    PACS_CONTAINER,
    PACS_HTTP_PORT,
    PACS_SERVICE_PORT,
    PERIODIC_SERVICES_ENV,
    SINGLETON_CONTAINER,
    VIEW_CONTAINER,
    VIEW_HTTP_PORT,
)

TIMEZONE_ENV = "TZ"  # in every container: o3:site.timezone
# "Is mysqld serving TCP?": exits 0 even on "access denied", so it needs no credential; during
# first-start init the image's temporary server has no networking, so it only answers once MySQL is final.
DB_PING = ("mysqladmin", "ping", "-h", "127.0.0.1", "--protocol=tcp", "--silent")


@dataclass(frozen=True)
class Port:
    """A port the container listens on: its name in the Services (http, service, mysql) and its
    number, fixed by the image."""

    name: str
    number: int

    @property
    def http(self) -> bool:
        """Plain HTTP: behind the HTTPS front door (o3:tls) it is not offered to the network."""
        return self.name == "http"


@dataclass(frozen=True)
class ContainerProbe:
    """How to tell the container is up."""

    port: int
    """The container port it asks."""
    path: Optional[str] = None
    """An HTTP GET of this path; None: a TCP connect (or `command`)."""
    command: tuple[str, ...] = ()
    """A command run in the container, ready when it exits 0 (the guide's db healthcheck)."""
    interval_seconds: int = 2
    timeout_seconds: int = 10
    retries: int = 5
    """The guide's healthcheck timing (db); the apps' timing is each platform's."""


@dataclass(frozen=True)
class Container:
    """One of the guide's containers, as the applications see it on either platform."""

    name: str
    """The container's (Deployment's, Service's) name, the guide's."""
    image: str
    """Its image, by o3:images key (pacs-singleton runs pacs's)."""
    extra_env_key: str
    """Its key under o3:extraEnv: the variables a site may add."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Literal variables from the guide (TIMEZONE_ENV comes from the site on top)."""
    secret_env: tuple[str, ...] = ()
    """The guide's connection strings it gets, by variable: values from the site's secret, never literal."""
    refused_env: tuple[str, ...] = ()
    """Variables it does not get, which a site may not set either."""
    ports: tuple[Port, ...] = ()
    probe: Optional[ContainerProbe] = None
    stop_grace_seconds: Optional[int] = None
    """Seconds between the stop signal and a kill; None: the site's o3:database.stopGraceSeconds."""
    drain_seconds: int = 0
    """Seconds a stopping replica keeps serving while it is taken out of its Service (Kubernetes preStop)."""

    @property
    def mounts(self) -> tuple[tuple[str, str], ...]:
        """(folder role, mount point) pairs: sitespec.guide.MOUNTS."""
        return tuple(MOUNTS[self.name])

    def literal_env(self, timezone: str, extra: Mapping[str, str]) -> dict[str, str]:
        """Its literal variables for a site: o3:extraEnv first, the guide's over it."""
        return {**extra, **self.env, TIMEZONE_ENV: timezone}

    @property
    def managed_env(self) -> frozenset[str]:
        """What o3:extraEnv may not set: every variable the program sets, and the refused ones."""
        return frozenset({TIMEZONE_ENV, *self.env, *self.secret_env, *self.refused_env})


_APP_ENV = MappingProxyType({"LOG_TO": "FILE"})
_APP_STOP_GRACE = 30
_APP_DRAIN = 5
# Only pacs-singleton may run the periodic services: set anywhere else, two would.
_NOT_PERIODIC = (PERIODIC_SERVICES_ENV,)

DB_PROBE = ContainerProbe(MYSQL_PORT, command=DB_PING)
DB = Container(
    DB_CONTAINER, image="db", extra_env_key="db",
    # The password as a file (never a value `docker inspect` prints), so the plain variable is refused.
    env=MappingProxyType({"MYSQL_ROOT_PASSWORD_FILE": DB_PASSWORD_FILE}),
    refused_env=("MYSQL_ROOT_PASSWORD", *_NOT_PERIODIC),
    ports=(Port("mysql", MYSQL_PORT),),
    probe=DB_PROBE,
)
PACS = Container(
    PACS_CONTAINER, image="pacs", extra_env_key="pacs", env=_APP_ENV,
    secret_env=("DPACS_CONNECTION_STRING",), refused_env=_NOT_PERIODIC,
    ports=(Port("http", PACS_HTTP_PORT), Port("service", PACS_SERVICE_PORT)),
    probe=ContainerProbe(PACS_HTTP_PORT, path="/"), stop_grace_seconds=_APP_STOP_GRACE, drain_seconds=_APP_DRAIN,
)
SINGLETON = Container(
    SINGLETON_CONTAINER, image="pacs", extra_env_key="pacsSingleton",
    env=MappingProxyType({**_APP_ENV, PERIODIC_SERVICES_ENV: "true"}),
    secret_env=("DPACS_CONNECTION_STRING",), stop_grace_seconds=_APP_STOP_GRACE,
    # The pacs image serves its web port in the singleton too (not published: no Service reaches
    # it); a singleton that stops answering there is restarted (Kubernetes' liveness probe).
    probe=ContainerProbe(PACS_HTTP_PORT, path="/"),
)
VIEW = Container(
    VIEW_CONTAINER, image="view", extra_env_key="view", env=_APP_ENV,
    secret_env=("NGV_CONNECTION_STRING", "ULTIMATE_CONNECTION_STRING"), refused_env=_NOT_PERIODIC,
    ports=(Port("http", VIEW_HTTP_PORT),),
    probe=ContainerProbe(VIEW_HTTP_PORT, path="/"), stop_grace_seconds=_APP_STOP_GRACE, drain_seconds=_APP_DRAIN,
)

CONTAINERS: Mapping[str, Container] = MappingProxyType({c.name: c for c in (DB, PACS, SINGLETON, VIEW)})
APPS = (PACS, SINGLETON, VIEW)
