"""A Docker site deployed by the previous release's program, then taken over by this one: the
preview shows no change and no replacement, and an `up` keeps every container (the same ids).
tests/e2e/takeover_harness.py says what is proved and how; the Kubernetes case is
tests/e2e/test_kubernetes_previous_release.py."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from daemon import clean
from e2e_harness import SITE, Project, stack_config
from site_fixtures import PASSWORD
from takeover_harness import assert_takeover_keeps_everything

pytestmark = pytest.mark.e2e


# --- Docker --------------------------------------------------------------------------------------

def site_containers(client) -> dict[str, str]:
    """The site's containers, name -> id (one listing call: see daemon.container_names)."""
    return {c["Names"][0].lstrip("/"): c["Id"] for c in client.api.containers(all=True, filters={"label": f"o3.site={SITE}"})}


def test_a_docker_site_of_the_previous_release_is_taken_over_unchanged(pulumi_env, docker_host, client, images,
                                                                        nofile_cap):
    clean(client)
    work = Path(tempfile.mkdtemp(prefix="o3-e2e-previous-"))
    project = Project(work, "previous", pulumi_env, secrets=[PASSWORD])
    try:
        config = stack_config(str(work / "storage"), images, docker_host, nofile_cap, name=SITE)
        seen = assert_takeover_keeps_everything(project, "docker", config, {"o3:dbPassword": PASSWORD},
                                                lambda: site_containers(client))
        assert {"db", "pacs", "pacs-singleton", "view", "o3-maintenance"} <= set(seen), seen
    finally:
        project.destroy(check=False)
        project.remove()
        clean(client)
        shutil.rmtree(work, ignore_errors=True)
