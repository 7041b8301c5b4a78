"""A site deployed by the previous release's program, then taken over by this one: the preview
shows no change and no replacement, and an `up` keeps every container and Kubernetes object (the
same ids). On both platforms. This is what proves a refactor's renames and moves (type tokens,
resource names, parents) reach a deployed site only as aliases.

The previous release is a commit of this repository (PREVIOUS, or O3_PREVIOUS_RELEASE): its program
is taken from git, so the clone must have that commit in its history. When a release lands, move
PREVIOUS to it (and re-record tests/fixtures/release-urns.json, the same proof on the mock engine)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from typing import Callable

from e2e_harness import PROGRAM, ROOT, Project

PREVIOUS = os.environ.get("O3_PREVIOUS_RELEASE", "df2d194")
# Components this release adds beside the previous release's (they hold no object of their own):
# the only steps besides `same` that a takeover may show.
NEW_COMPONENTS = {
    "docker": set(),
    "kubernetes": {"o3:index:KubeRegistryLogin", "o3:index:KubeMaintenance"},
}
# What this release changes on a deployed site on purpose, in place, never by replacement: the schema
# step's script text (one script for both platforms since issue 25), held by the Docker schema
# command's `create` and by the Kubernetes scripts ConfigMap's `data`. The step runs once more, and it
# is idempotent (CREATE SCHEMA IF NOT EXISTS). Empty these when PREVIOUS moves past this release.
SCRIPT_UPDATES = {
    "docker": {("command:local:Command", "-schemas-create"): {"create"}},
    "kubernetes": {("kubernetes:core/v1:ConfigMap", "-data-scripts"): {"data"}},
}


def _type_and_name(urn: str) -> tuple[str, str]:
    qualified, name = urn.split("::")[2:4]
    return qualified.split("$")[-1], name


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
    updates = [s for s in steps if s["op"] == "update"]
    for step in updates:
        kind, name = _type_and_name(step["urn"])
        allowed = [props for (t, suffix), props in SCRIPT_UPDATES[platform].items() if t == kind and name.endswith(suffix)]
        assert allowed and set(step.get("diffReasons") or []) <= allowed[0], \
            f"the takeover of a {PREVIOUS} site would update {step['urn']}: {step.get('diffReasons')}"
    assert len(updates) <= len(SCRIPT_UPDATES[platform]), updates
    other = sorted((s["op"], s["urn"]) for s in steps if s["op"] not in ("same", "refresh", "update"))
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


