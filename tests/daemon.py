"""The tests' private Docker daemon, shared by the contract tests (tests/contract) and the
end-to-end tests (tests/e2e): its fixtures, the site config a test deploys there, and the clean-up
of what a site leaves behind. A pytest plugin, loaded by tests/conftest.py.

The daemon is disposable (`O3_TEST_DOCKER_HOST`, started by tests/dockerd.sh): the tests create
and remove containers named db, pacs and view on it. A prerequisite this machine lacks (no
daemon, no toolchain, no ../shared beside the clone) skips the tests that need it, except that
with O3_TESTS_REQUIRED=1 (as .ci/run sets for every suite) it fails them instead.
"""

from __future__ import annotations

import contextlib
import copy
import os
import subprocess
import time
from pathlib import Path

import pytest

from site_fixtures import BASE, PASSWORD

STANDINS = Path(__file__).resolve().parent / "contract" / "build-standins.sh"
REQUIRED = os.environ.get("O3_TESTS_REQUIRED") == "1"
# Everything a site run can leave on the daemon: the site's containers and the contract tests' probe.
LEFTOVERS = ("db", "pacs", "pacs-singleton", "view", "o3-maintenance", "o3-proxy", "o3-offsite", "db-ulimit-probe")


def missing(reason: str):
    """A prerequisite this machine lacks: the test is skipped (or fails: see below). Any test may
    use it, from a fixture (the hook below sees the setup phase only)."""
    skip = pytest.skip.Exception(reason)
    skip.prerequisite = True
    raise skip


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    # A missing prerequisite fails a test under O3_TESTS_REQUIRED=1, else skips it.
    # Decided here, per test, not in the fixtures: pytest keeps a session fixture's skip and
    # raises it again for every test that asks for it, contract and e2e tests alike.
    try:
        return (yield)
    except pytest.skip.Exception as e:
        if not (REQUIRED and getattr(e, "prerequisite", False)):
            raise
        reason = e.msg
    pytest.fail(f"O3_TESTS_REQUIRED=1: {reason}", pytrace=False)


@pytest.fixture(scope="session")
def docker_host() -> str:
    host = os.environ.get("O3_TEST_DOCKER_HOST")
    if not host:
        missing("O3_TEST_DOCKER_HOST is not set: these tests create and remove containers named db/pacs/view, "
                "so they only run against a disposable daemon (.ci/run starts one)")
    return host


@pytest.fixture(scope="session")
def client(docker_host):
    import docker

    try:
        c = docker.DockerClient(base_url=docker_host, timeout=300)
        c.ping()
    except Exception as e:  # noqa: BLE001
        missing(f"no Docker daemon reachable at {docker_host}: {e}")
    return c


@pytest.fixture(scope="session")
def standins(docker_host, client) -> dict[str, str]:
    """Image tags of the stand-ins, built once (reused when present)."""
    start = time.monotonic()
    out = subprocess.run([str(STANDINS)], env=dict(os.environ, DOCKER_HOST=docker_host), capture_output=True, text=True)
    if out.returncode != 0:
        pytest.fail(f"building the stand-in images failed:\n{out.stdout}\n{out.stderr}")
    print(f"\n[figures] stand-in images ready in {time.monotonic() - start:.1f} s: {out.stdout.strip()}")
    tag = out.stdout.strip().split(":")[-1]
    return {"db": f"o3-standin-db:{tag}", "app": f"o3-standin-app:{tag}", "proxy": f"o3-standin-proxy:{tag}"}


@pytest.fixture(scope="session")
def nofile_cap(client, standins) -> int:
    """The open-files hard limit this daemon can give a container."""
    from ops import _docker as docker_ops

    return docker_ops.nofile_limit(docker_ops.HostProbe(client, standins["db"]))


def db_limits(nofile_cap: int) -> dict:
    """o3:database on a test daemon: the guide's nofile limits, capped at what the daemon grants."""
    return {"ulimits": {"nofileSoft": min(26677, nofile_cap), "nofileHard": min(46677, nofile_cap)},
            "waitTimeoutSeconds": 120}


def site_config(storage: str, docker_host: str, nofile_cap: int, **site) -> dict:
    """site_fixtures.BASE as a site on the test daemon, its data under `storage`; `site`: other
    o3:site values (name=, ring=). The db password is the caller's to add (config or --secret)."""
    cfg = copy.deepcopy(BASE)
    cfg["o3:site"].update(storagePath=storage, **site)
    cfg["o3:ports"] = {"bindAddress": "127.0.0.1"}  # test traffic stays on loopback
    cfg["o3:database"] = db_limits(nofile_cap)
    cfg["docker:host"] = docker_host
    return cfg


def mysql(container, sql: str) -> str:
    """SQL in the db container as root with the tests' PASSWORD; it goes by environment, not argv."""
    code, out = container.exec_run(["mysql", "-uroot", "-N", "-e", sql], environment={"MYSQL_PWD": PASSWORD})
    assert code == 0, out.decode()
    return out.decode()


def container_names(client, **filters) -> set[str]:
    """The names of the daemon's containers, stopped ones too, in one listing call. docker-py's
    containers.list() inspects each container after listing, and fails on one removed meanwhile
    (a step's short-lived helper during an `up`): seen in CI."""
    return {n.lstrip("/") for c in client.api.containers(all=True, filters=filters or None) for n in c["Names"]}


def clean(client) -> None:
    """Remove what a site run (or a failed one) leaves on the test daemon: the containers, with
    their anonymous volumes, and the network. The data folders are the tests' temp folders."""
    for name in LEFTOVERS:
        try:
            client.containers.get(name).remove(force=True, v=True)
        except Exception:  # noqa: BLE001 - absent is fine
            pass
    for n in client.networks.list(names=["o3net"]):
        n.remove()


@contextlib.contextmanager
def site_disk(path: str, size_gb: int = 100):
    """`path` as a file system of its own, the site's disk: a tmpfs of `size_gb` (a limit, not
    memory taken up front), so that the vendor's 50 GB storage check (preflight, verify) measures
    the site's disk and not whatever this machine's own disk has left after its caches."""
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_gb}g,mode=0755", "o3-site-disk", path],
                   check=True, capture_output=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", path], capture_output=True)
