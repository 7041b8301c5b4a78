"""Fixtures of the end-to-end tests: the pinned Pulumi toolchain, a local registry serving one
stand-in image per version, and site stacks written by the tests (tests/daemon.py has the
daemon's fixtures).

They need `O3_TEST_DOCKER_HOST` (a disposable daemon: they create and remove containers named
db/pacs/view) and `scripts/pulumi-toolchain`. `.ci/run` provides both and sets
O3_TESTS_REQUIRED=1, which turns a missing prerequisite into a failure instead of a skip.
"""

from __future__ import annotations

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
    try:
        yield start.stdout.strip().splitlines()[-1]
    finally:
        cluster("stop", check=False)


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
