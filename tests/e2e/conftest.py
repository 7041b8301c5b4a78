"""Fixtures of the end-to-end tests: the pinned Pulumi toolchain, the private Docker daemon, a
local registry serving one stand-in image per version, and site stacks written by the tests.

They need `O3_TEST_DOCKER_HOST` (a disposable daemon: they create and remove containers named
db/pacs/view) and `scripts/pulumi-toolchain`. `.ci/run` provides both and sets
O3_E2E_REQUIRED=1, which turns a missing prerequisite into a failure instead of a skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from e2e_harness import (  # noqa: E402
    REPOS,
    REQUIRED,
    VERSIONS,
    Images,
    Registry,
    publish,
    toolchain_env,
)


def missing(reason: str):
    if REQUIRED:
        pytest.fail(reason)
    pytest.skip(reason)


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
def docker_host() -> str:
    host = os.environ.get("O3_TEST_DOCKER_HOST")
    if not host:
        missing("O3_TEST_DOCKER_HOST is not set: these tests create and remove containers named db/pacs/view, "
                "so they only run against a disposable daemon (.ci/run starts one)")
    return host


@pytest.fixture(scope="session")
def client(docker_host):
    import docker

    c = docker.DockerClient(base_url=docker_host, timeout=300)
    c.ping()
    return c


@pytest.fixture(scope="session")
def standins(docker_host, client) -> dict[str, str]:
    out = subprocess.run([str(ROOT / "tests" / "contract" / "build-standins.sh")],
                         env=dict(os.environ, DOCKER_HOST=docker_host), capture_output=True, text=True)
    if out.returncode != 0:
        pytest.fail(f"building the stand-in images failed:\n{out.stdout}\n{out.stderr}")
    tag = out.stdout.strip().split(":")[-1]
    return {"db": f"o3-standin-db:{tag}", "app": f"o3-standin-app:{tag}", "proxy": f"o3-standin-proxy:{tag}"}


@pytest.fixture(scope="session")
def images(client, standins) -> Images:
    """Every version of every component, pushed to a local registry and absent from the daemon."""
    cache = Path(os.environ.get("O3_E2E_REGISTRY_CACHE", "/var/cache/o3-e2e-registry"))
    cache.mkdir(parents=True, exist_ok=True)
    reg = Registry(cache / "storage")
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
    yield Images(reg.host, refs, ids)
    reg.stop()


@pytest.fixture(scope="session")
def nofile_cap(client, standins) -> int:
    from ops import preflight

    return preflight.nofile_limit(preflight.HostProbe(client, standins["db"]))
