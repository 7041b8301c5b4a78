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
import re
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
    "kubernetes": {"o3:index:KubeRegistryLogin", "o3:index:KubeMaintenance",
                   # issue 27: a drain evicts one replica of pacs, view (and the proxy) at a time
                   "kubernetes:policy/v1:PodDisruptionBudget"},
}
# What this release changes on a deployed site on purpose: the schema step's script text (one
# script for both platforms since issue 25). On Docker the schema command's `create` is updated in
# place (the step runs once more; it is idempotent: CREATE SCHEMA IF NOT EXISTS). On Kubernetes the
# scripts ConfigMap holds it, and pulumi-kubernetes replaces a ConfigMap whose `data` changes: an
# object without data of its own (its scripts come from this repository), which every script change
# has replaced before. Nothing else may change. Empty these when PREVIOUS moves past this release.
SCRIPT_CHANGES = {
    "docker": {("command:local:Command", "-schemas-create"): ({"update"}, {"create"})},
    "kubernetes": {("kubernetes:core/v1:ConfigMap", "-data-scripts"): ({"update", "replace"}, {"data"}),
                   # issue 27: the pods tolerate a lost node for o3:kubernetes.nodeLossSeconds and spread
                   # per ReplicaSet (an update of the Deployments, rolled without a failed request)
                   ("kubernetes:apps/v1:Deployment", "-apps-pacs"): ({"update"}, {"spec"}),
                   ("kubernetes:apps/v1:Deployment", "-apps-view"): ({"update"}, {"spec"}),
                   ("kubernetes:apps/v1:Deployment", "-proxy-deployment"): ({"update"}, {"spec"}),
                   # issue 27: pacs-singleton, a Deployment, becomes a StatefulSet of one (never two at
                   # once): the Deployment is deleted first, then the StatefulSet created. The singleton
                   # holds no data (its folders are on o3-data, which stays). Reasons: the provider's.
                   ("kubernetes:apps/v1:StatefulSet", "-apps-pacs-singleton"): ({"replace"}, None)},
}
# Issue 27's locked-down namespace, on purpose: the namespace gains its Pod Security labels, every
# pod template its securityContext and the db-client label (Deployments, the StatefulSet and the
# CronJob roll, in place), the Jobs their deadline and requests (a Job's template is immutable:
# pulumi-kubernetes replaces the autonamed schema and pre-upgrade Jobs, which run again harmlessly:
# CREATE SCHEMA IF NOT EXISTS, one more dump), and the NetworkPolicies are created beside the site.
# Empty these when PREVIOUS moves past this release.
LOCKDOWN_CHANGES = {
    "docker": {},
    "kubernetes": {("kubernetes:core/v1:Namespace", "-namespace"): ({"update"}, {"metadata"}),
                   ("kubernetes:apps/v1:Deployment", ""): ({"update"}, {"spec"}),
                   ("kubernetes:apps/v1:StatefulSet", ""): ({"update"}, {"spec"}),
                   ("kubernetes:batch/v1:CronJob", ""): ({"update"}, {"spec"}),
                   ("kubernetes:batch/v1:Job", ""): ({"replace"}, {"spec"})},
}
NEW_KINDS = {"docker": set(), "kubernetes": {"kubernetes:networking.k8s.io/v1:NetworkPolicy"}}
NEW_COMPONENTS["kubernetes"] |= {"o3:index:KubeNetworkPolicies"}
REPLACE_STEPS = ("replace", "create-replacement", "delete-replaced")


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
    by its URN or an alias), but the new components' creates and SCRIPT_CHANGES."""
    steps = project.preview_steps()
    assert any(s["op"] == "same" for s in steps), steps  # the preview saw the deployed site
    changed = {}
    for step in steps:
        if step["op"] not in ("update", *REPLACE_STEPS):
            continue
        kind, name = _type_and_name(step["urn"])
        allowed = [(ops, props) for (t, suffix), (ops, props) in
                   [*SCRIPT_CHANGES[platform].items(), *LOCKDOWN_CHANGES[platform].items()]
                   if t == kind and name.endswith(suffix)]
        op = "replace" if step["op"] in REPLACE_STEPS else step["op"]
        # Top-level properties: the engine names nested ones as paths (data["create-schemas.sh"]).
        reasons = {re.split(r"[.\[]", r, maxsplit=1)[0] for r in step.get("diffReasons") or step.get("replaceReasons") or []}
        assert allowed and op in allowed[0][0] and (allowed[0][1] is None or reasons <= allowed[0][1]), \
            f"the takeover of a {PREVIOUS} site would {step['op']} {step['urn']}: {sorted(reasons)}"
        changed[step["urn"]] = op
    scripts = [u for u in changed if any(_type_and_name(u)[0] == t and _type_and_name(u)[1].endswith(x)
                                         for t, x in SCRIPT_CHANGES[platform])]
    assert len(scripts) <= len(SCRIPT_CHANGES[platform]), changed
    other = sorted((s["op"], s["urn"]) for s in steps if s["op"] not in ("same", "refresh", "update", *REPLACE_STEPS))
    new = NEW_COMPONENTS[platform] | NEW_KINDS[platform]
    expected = [("create", urn) for op, urn in other if op == "create" and urn.split("::")[2].split("$")[-1] in new]
    assert other == expected, f"the takeover of a {PREVIOUS} site would change: {[o for o in other if o not in expected]}"
    created = {urn.split("::")[2].split("$")[-1] for _, urn in expected}
    assert created == new, created


def assert_takeover_keeps_everything(project: Project, platform: str, config: dict, secrets: dict[str, str],
                                     observe: Callable[[], dict[str, str]],
                                     recreated: frozenset[str] = frozenset()) -> dict[str, str]:
    """Deploy with the previous release, take over with this one (`up` with the pack): what `observe`
    sees (the site's objects and their ids) and the engine's ids stay the same, but for the objects
    in `recreated` (SCRIPT_CHANGES' replacements, by what `observe` calls them, before and after).
    Returns what it saw."""
    use_program(project, PREVIOUS)
    project.init(config, secrets)
    project.up(policy=False)  # the previous release's program, with this release's pack left out
    before, ids = observe(), custom_ids(project)
    use_program(project, None)
    assert_taken_over_unchanged(project, platform)
    project.up()
    after = observe()
    assert after.keys() - recreated == before.keys() - recreated, "an object was added or removed by the takeover"
    assert {k: v for k, v in after.items() if k not in recreated} == {k: v for k, v in before.items() if k not in recreated}, \
        "an object was replaced or re-created by the takeover"
    # Created, so new ids: the new kinds (NetworkPolicies, PodDisruptionBudgets), an autonamed Job
    # that is replaced (LOCKDOWN_CHANGES), and what `recreated` names.
    moved = NEW_KINDS[platform] | NEW_COMPONENTS[platform] | {
        t for (t, _), (ops, _p) in LOCKDOWN_CHANGES[platform].items() if "replace" in ops}
    named = {(t, i) for t, i in custom_ids(project) ^ ids
             if t not in moved and f"{t.split(':')[-1]}/{i.split('/')[-1]}" not in recreated}
    assert not named, f"the takeover gave these objects new ids: {sorted(named)}"
    project.preview("--expect-no-changes", policy=False)
    return before


def custom_ids(project: Project) -> set[tuple[str, str]]:
    """The custom resources' (type, id): a replacement gives a container or an autonamed Job a new id."""
    return {(r["type"], r.get("id", "")) for r in project.resources()
            if r.get("custom") and not r["type"].startswith("pulumi:providers:")}


