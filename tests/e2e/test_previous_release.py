"""A site deployed by the previous release's program, then taken over by this one: the preview
shows no change and no replacement, and an `up` keeps every container and Kubernetes object (the
same ids). On both platforms. This is what proves a refactor's renames and moves (type tokens,
resource names, parents) reach a deployed site only as aliases.

The previous release is a commit of this repository (PREVIOUS, or O3_PREVIOUS_RELEASE): its program
is taken from git, so the clone must have that commit in its history. When a release lands, move
PREVIOUS to it (and re-record tests/fixtures/release-urns.json, the same proof on the mock engine)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Callable

import pytest

from daemon import clean
from e2e_harness import PROGRAM, ROOT, SITE, Project, stack_config
from kube_harness import kube_json, kube_stack_config, kubectl, new_workdir
from site_fixtures import PASSWORD, REGISTRY_KEY

pytestmark = pytest.mark.e2e
PREVIOUS = os.environ.get("O3_PREVIOUS_RELEASE", "df2d194")
# Components this release adds beside the previous release's (they hold no object of their own):
# the only steps besides `same` that a takeover may show.
NEW_COMPONENTS = {
    "docker": set(),
    "kubernetes": {"o3:index:KubeRegistryLogin", "o3:index:KubeMaintenance"},
}


def use_program(project: Project, commit: str | None) -> None:
    """Put the program of `commit` (None: this checkout's) in the project's folder."""
    for name in PROGRAM:
        target = project.dir / name
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    if commit is None:
        for name in PROGRAM:
            src = ROOT / name
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, project.dir / name)
        return
    out = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", commit, *PROGRAM], capture_output=True)
    assert out.returncode == 0, (f"the previous release {commit} is not in this clone's history (fetch it, or set "
                                 f"O3_PREVIOUS_RELEASE): {out.stderr.decode()[-500:]}")
    tarfile.open(fileobj=io.BytesIO(out.stdout)).extractall(project.dir, filter="data")


def assert_taken_over_unchanged(project: Project, platform: str) -> None:
    """The current program's preview of the previous release's site: every resource `same` (found
    by its URN or an alias), but the new components' creates."""
    steps = project.preview_steps()
    assert any(s["op"] == "same" for s in steps), steps  # the preview saw the deployed site
    other = sorted((s["op"], s["urn"]) for s in steps if s["op"] not in ("same", "refresh"))
    expected = [("create", urn) for op, urn in other
                if op == "create" and urn.split("::")[2].split("$")[-1] in NEW_COMPONENTS[platform]]
    assert other == expected, f"the takeover of a {PREVIOUS} site would change: {[o for o in other if o not in expected]}"
    created = {urn.split("::")[2].split("$")[-1] for _, urn in expected}
    assert created == NEW_COMPONENTS[platform], created


def assert_takeover_keeps_everything(project: Project, platform: str, config: dict, secrets: dict[str, str],
                                     observe: Callable[[], dict[str, str]]) -> dict[str, str]:
    """Deploy with the previous release, take over with this one (`up` with the pack): what `observe`
    sees (the site's objects and their ids) and the engine's ids stay the same. Returns what it saw."""
    use_program(project, PREVIOUS)
    project.init(config, secrets)
    project.up(policy=False)  # the previous release's program, with this release's pack left out
    before, ids = observe(), custom_ids(project)
    use_program(project, None)
    assert_taken_over_unchanged(project, platform)
    project.up()
    assert observe() == before, "an object was replaced or re-created by the takeover"
    assert custom_ids(project) == ids
    project.preview("--expect-no-changes", policy=False)
    return before


def custom_ids(project: Project) -> set[tuple[str, str]]:
    """The custom resources' (type, id): a replacement gives a container or an autonamed Job a new id."""
    return {(r["type"], r.get("id", "")) for r in project.resources()
            if r.get("custom") and not r["type"].startswith("pulumi:providers:")}


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


# --- Kubernetes ----------------------------------------------------------------------------------

KUBE_SITE = "prev-site"  # its own namespace, beside test_kubernetes.py's


def kube_objects(namespace: str) -> dict[str, str]:
    """The site's objects (kind/name -> uid), its namespace included; a replaced object has a new uid."""
    items = kube_json("get", "deployments,statefulsets,services,jobs,cronjobs,secrets,configmaps,pvc",
                      "-n", namespace, "-l", "app.kubernetes.io/part-of=o3")["items"]
    found = {f"{i['kind']}/{i['metadata']['name']}": i["metadata"]["uid"] for i in items
             if not i["metadata"].get("ownerReferences")}  # a Job the CronJob started is not the site's own
    found[f"Namespace/{namespace}"] = kube_json("get", "namespace", namespace)["metadata"]["uid"]
    return found


def test_a_kubernetes_site_of_the_previous_release_is_taken_over_unchanged(pulumi_env, kube_cluster, kube_refs):
    kubectl("delete", "namespace", KUBE_SITE, "--ignore-not-found", "--wait=true", timeout=600)
    work = new_workdir("o3-e2e-kube-previous-")
    project = Project(work, KUBE_SITE, pulumi_env, secrets=[PASSWORD, REGISTRY_KEY])
    try:
        # With a registry key, so the pull Secret (which moved) exists; the stand-ins are already on
        # the nodes, so nothing is pulled with it.
        seen = assert_takeover_keeps_everything(
            project, "kubernetes", kube_stack_config(KUBE_SITE, kube_cluster, kube_refs),
            {"o3:dbPassword": PASSWORD, "o3:registryKey": REGISTRY_KEY}, lambda: kube_objects(KUBE_SITE))
        assert {"Secret/o3-registry", "CronJob/o3-maintenance", "Deployment/pacs", "StatefulSet/db"} <= set(seen), seen
        assert sum(k.startswith("Job/") for k in seen) == 2, seen  # the pre-upgrade dump and the schema step
    finally:
        project.destroy(check=False)
        project.remove()
        kubectl("delete", "namespace", KUBE_SITE, "--ignore-not-found", "--wait=true", check=False, timeout=600)
        shutil.rmtree(work, ignore_errors=True)
