"""Fixtures of the end-to-end tests: the pinned Pulumi toolchain, a local registry serving one
stand-in image per version, and site stacks written by the tests (tests/daemon.py has the
daemon's fixtures).

They need `O3_TEST_DOCKER_HOST` (a disposable daemon: they create and remove containers named
db/pacs/view) and `scripts/pulumi-toolchain`. `.ci/run` provides both and sets
O3_TESTS_REQUIRED=1, which turns a missing prerequisite into a failure instead of a skip.

.ci/run runs the e2e tests in three families (family() below: the Docker-host, the Kubernetes and
the workflow scenarios), each in a pytest process of its own, at once, all on the one test daemon. Two things on it are not shareable; each is a lock file
.ci/run names (unset, as in one `scripts/test --e2e`: nothing to wait for):
  O3_E2E_DAEMON_LOCK  the daemon itself. A fixture that uses it while it is set up (it takes
      `client` or `docker_host`) holds it shared; a test that asks for `docker_host` itself may act
      on the whole daemon (restart it: O3_TEST_DOCKERD_CTL) and holds it exclusively.
  O3_E2E_SITE_LOCK  its one Docker site (the containers db, pacs, view and their loopback ports),
      held by another process (the Docker-host scenarios) while its sites are up: a test here that
      deploys a Docker site on the daemon (it asks for `nofile_cap`) waits for it, and runs last.
  O3_E2E_CLUSTER_LOCK  the test cluster, which .ci/run then starts once for every family and
      stops at the end: a family that uses it holds it shared from its first such test to its
      end (its sites stay up between tests); a test that breaks the cluster's nodes (it asks for
      `kube_whole_cluster`, and runs last in its family) holds it alone, so no other family's
      site sees a node it powered off.
"""

from __future__ import annotations

import contextlib
import fcntl
import inspect
import os
import shutil
import time
from pathlib import Path

import pytest

from daemon import missing
from kube_harness import cluster, load_standins, new_workdir
from e2e_harness import (
    REPOS,
    ROOT,
    VERSIONS,
    LocalRegistry,
    StandinReleases,
    publish,
    toolchain_env,
)

DAEMON_LOCK = os.environ.get("O3_E2E_DAEMON_LOCK")
SITE_LOCK = os.environ.get("O3_E2E_SITE_LOCK")
CLUSTER_LOCK = os.environ.get("O3_E2E_CLUSTER_LOCK")
_HELD: set[str] = set()  # held exclusively here: a second flock of this process would wait for it


@contextlib.contextmanager
def _locked(path: str | None, how: int):
    if not path or path in _HELD:
        yield
        return
    with open(path, "a") as f:  # not inherited by the processes a test starts (PEP 446)
        fcntl.flock(f, how)
        if how == fcntl.LOCK_EX:
            _HELD.add(path)
        try:
            yield
        finally:
            _HELD.discard(path)


class _DaemonInUse:
    """A plugin, not this conftest's hook: that would not reach the session fixtures."""

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef, request):
        # Its own setup only: pytest has set up the fixtures it takes before this hook.
        uses_daemon = {"client", "docker_host"} & set(fixturedef.argnames)
        with _locked(DAEMON_LOCK if uses_daemon else None, fcntl.LOCK_SH):
            return (yield)


FAMILIES = {
    "docker": "e2e family: the Docker-host scenarios (the Pulumi toolchain and the test daemon)",
    "kubernetes": "e2e family: the Kubernetes scenarios (also the test cluster, tests/kube)",
    "workflows": "e2e family: the workflows run by act (also scripts/ci-toolchain)",
}


def pytest_configure(config):
    for name, what in FAMILIES.items():
        config.addinivalue_line("markers", f"{name}: {what}")
    if DAEMON_LOCK and not config.pluginmanager.has_plugin("o3-e2e-daemon-in-use"):
        config.pluginmanager.register(_DaemonInUse(), "o3-e2e-daemon-in-use")


def family(item) -> str:
    """An e2e test's family (.ci/run runs each, -m "e2e and NAME", beside the others): the
    Kubernetes scenarios need the cluster's build, the workflows' the ci toolchain; the Docker
    host's only the Pulumi toolchain."""
    if item.path.name.startswith("test_workflows"):
        return "workflows"
    if "kube_cluster" in item.fixturenames:
        return "kubernetes"
    return "docker"


@pytest.hookimpl(tryfirst=True)  # before -m selects
def pytest_collection_modifyitems(items):
    for item in items:
        if item.get_closest_marker("e2e"):
            item.add_marker(family(item))
    # Last, so that the others do not wait: the tests that wait for the Docker site, and those
    # that wait for the whole cluster.
    items.sort(key=lambda item: (
        "kube_whole_cluster" in getattr(item, "fixturenames", ()),
        bool(SITE_LOCK) and "nofile_cap" in getattr(item, "fixturenames", ()),
    ))


@pytest.fixture(autouse=True)
def _shared_daemon(request):
    """The test's turn on what the families share (the module's docstring)."""
    site = SITE_LOCK if "nofile_cap" in request.fixturenames else None
    whole = DAEMON_LOCK if "docker_host" in inspect.signature(request.function).parameters else None
    with _locked(site, fcntl.LOCK_EX), _locked(whole, fcntl.LOCK_EX):
        yield


@pytest.fixture(scope="session")
def pulumi_env() -> dict[str, str]:
    try:
        env = toolchain_env()
    except RuntimeError as e:
        missing(str(e))
    if not (ROOT / "policy" / "venv" / "bin" / "python").exists():
        missing("policy/venv is missing: scripts/test --e2e creates it")
    return env


@pytest.fixture(scope="session")
def images(client, standins) -> StandinReleases:
    """Every version of every component, pushed to a local registry and absent from the daemon."""
    cache = Path(os.environ.get("O3_E2E_REGISTRY_CACHE", "/var/cache/o3-e2e-registry"))
    cache.mkdir(parents=True, exist_ok=True)
    reg = LocalRegistry(cache / "storage")
    start = time.monotonic()
    refs: dict[str, dict[str, str]] = {}
    ids = {}
    for comp, versions in VERSIONS.items():
        base = standins[comp if comp in ("db", "proxy") else "app"]
        for v in versions:
            ref = f"{reg.host}/{REPOS[comp]}:{v}"
            ids[ref] = publish(client, base, ref, v)
            refs.setdefault(comp, {})[v] = ref
    print(f"\n[figures] {sum(len(v) for v in refs.values())} stand-in releases published in {time.monotonic() - start:.1f} s")
    yield StandinReleases(reg.host, refs, ids)
    reg.stop()


@pytest.fixture(scope="session")
def kube_cluster():
    """The two-node test cluster (tests/kube), built (cached) and started once; stopped at the end
    (its images and etcd are kept for the next run). Yields the admin kubeconfig's path."""
    try:
        start = cluster("start", timeout=1800)
    except RuntimeError as e:
        missing(f"the Kubernetes test cluster did not start: {e}")
    print(f"\n[figures] cluster: {start.stderr.strip().splitlines()[-1] if start.stderr.strip() else ''}")
    if CLUSTER_LOCK:  # .ci/run's: shared with the other families until this one ends
        with open(CLUSTER_LOCK, "a") as turn:
            fcntl.flock(turn, fcntl.LOCK_SH)
            _CLUSTER_TURN.append(turn)
            yield start.stdout.strip().splitlines()[-1]
        return
    try:
        yield start.stdout.strip().splitlines()[-1]
    finally:
        cluster("stop", check=False)


_CLUSTER_TURN: list = []  # the open lock file kube_cluster holds shared (O3_E2E_CLUSTER_LOCK)


@pytest.fixture
def kube_whole_cluster(kube_cluster):
    """The test cluster for a test that breaks its nodes (powers one off, hangs a kubelet, cuts
    its network): the cluster alone while it runs (the lock converted to exclusive, and back)."""
    if not _CLUSTER_TURN:
        yield kube_cluster
        return
    started = time.monotonic()
    fcntl.flock(_CLUSTER_TURN[0], fcntl.LOCK_EX)
    print(f"\n[figures] waited {time.monotonic() - started:.0f} s for the cluster alone")
    try:
        yield kube_cluster
    finally:
        fcntl.flock(_CLUSTER_TURN[0], fcntl.LOCK_SH)


@pytest.fixture(scope="session")
def kube_refs(kube_cluster, client, docker_host, standins):
    """The stand-in releases on both nodes (one image per component and version)."""
    work = new_workdir("o3-e2e-kube-images-")
    start = time.monotonic()
    try:
        refs = load_standins(client, docker_host, standins, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n[figures] stand-ins loaded onto both nodes in {time.monotonic() - start:.0f} s")
    return refs
