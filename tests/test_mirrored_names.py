"""The two platforms' components mirror each other by name, and a rename never moves a deployed
site's resources: every URN the previous release registered is still claimed, by the same URN or
by an alias of the resource that took its place (so `pulumi up` sees no delete and no create).

The previous release's URNs are recorded in tests/fixtures/release-urns.json, from the mock engine
running that release's own program. To move the baseline to a newer release, run
`O3_RECORD_URNS=<commit> .venv/bin/python -m pytest tests/test_mirrored_names.py` (needs git)."""

from __future__ import annotations

import ast
import copy
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

import pytest

from engine import ROOT, evaluate
from site_fixtures import BASE, PASSWORD, REGISTRY_KEY
from tlsfixtures import tls_site

FIXTURE = ROOT / "tests" / "fixtures" / "release-urns.json"
COMPONENTS = ROOT / "components"
KUBE_ONLY = {"secrets.py",  # the db Secret: on Docker the password goes straight into the containers
             "hardening.py"}  # Pod Security, securityContexts and NetworkPolicies: o3net is the Docker site's boundary
# Custom resources this release adds to a deployed site on purpose (created, nothing replaced), and why.
NEW_KINDS = {"kubernetes:networking.k8s.io/v1:NetworkPolicy": "issue 27: the namespace's NetworkPolicies"}
# Kubernetes classes named for what they are on Kubernetes, not "Kube" + the Docker class: their type
# tokens are in deployed sites' URNs, and a class is named as its token.
KUBE_OWN_NAMES = {"network.py": "KubeNamespace", "volumes.py": "KubeDataVolume"}


def sites() -> dict[str, tuple[dict, list[str]]]:
    """Configs that register every component: each platform with and without TLS and a registry key."""
    full, secrets = tls_site()
    full["o3:registryKey"] = REGISTRY_KEY
    plain = {**copy.deepcopy(BASE), "o3:dbPassword": PASSWORD}
    kube_plain = {**copy.deepcopy(plain), "o3:platform": "kubernetes",
                  "o3:kubernetes": {"storageClass": "nas-rwx", "storageGb": 500}}
    del kube_plain["o3:host"], kube_plain["o3:site"]["storagePath"]
    kube_full = {**copy.deepcopy(full), "o3:platform": "kubernetes",
                 "o3:kubernetes": {"storageClass": "nas-rwx", "storageGb": 500}}
    del kube_full["o3:host"], kube_full["o3:site"]["storagePath"]
    return {
        "docker": (plain, ["o3:dbPassword"]),
        "docker-tls-login": (full, sorted(secrets | {"o3:registryKey"})),
        "kubernetes": (kube_plain, ["o3:dbPassword"]),
        "kubernetes-tls-login": (kube_full, sorted(secrets | {"o3:registryKey"})),
    }


# What the recorder runs inside the old release's tree: its own program and tests/engine.py, with
# this engine's URNs (the engine's, where older mocks kept only the parent's own type).
_RECORD = """
import importlib.util, json, sys
sys.path[:0] = [".", "tests"]
import engine
from engine import evaluate
spec = importlib.util.spec_from_file_location("current_engine", sys.argv[1])
current = sys.modules["current_engine"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(current)
engine._Recorder.make_urn = current._Recorder.make_urn
out = {}
for key, (cfg, secrets) in json.load(sys.stdin).items():
    out[key] = sorted(r.urn for r in evaluate(cfg, set(secrets)).resources)
print(json.dumps(out))
"""


def record(commit: str) -> None:
    tar = subprocess.run(["git", "-C", str(ROOT), "archive", commit], check=True, capture_output=True).stdout
    with tempfile.TemporaryDirectory() as tree:
        tarfile.open(fileobj=BytesIO(tar)).extractall(tree, filter="data")
        done = subprocess.run([sys.executable, "-c", _RECORD, str(ROOT / "tests" / "engine.py")], cwd=tree, input=json.dumps(sites()), text=True,
                              capture_output=True)
    assert done.returncode == 0, f"the program of {commit} failed on the mock engine:\n{done.stderr[-3000:]}"
    full = subprocess.run(["git", "-C", str(ROOT), "rev-parse", commit], check=True, capture_output=True, text=True)
    FIXTURE.write_text(json.dumps({"commit": full.stdout.strip(), "sites": json.loads(done.stdout)}, indent=1) + "\n")


@pytest.fixture(scope="module")
def release() -> dict:
    if os.environ.get("O3_RECORD_URNS"):
        record(os.environ["O3_RECORD_URNS"])
    return json.loads(FIXTURE.read_text())


# Custom resources added on purpose since the recorded release (tests/e2e/takeover_harness.py too):
NEW_RESOURCES = {"kubernetes:policy/v1:PodDisruptionBudget"}  # issue 27: a drain keeps every Service answering


@pytest.mark.parametrize("key", list(sites()))
def test_every_urn_of_the_previous_release_is_still_claimed_once(release, key):
    cfg, secrets = sites()[key]
    now = evaluate(cfg, set(secrets)).resources
    claims: dict[str, list[str]] = {}
    for r in now:
        for urn in {r.urn, *r.aliases}:
            claims.setdefault(urn, []).append(r.urn)
    old = release["sites"][key]
    lost = [u for u in old if u not in claims]
    assert not lost, f"{key}: these resources of release {release['commit'][:7]} would be deleted (give " \
                     f"their successors `aliases`): {lost}"
    twice = {u: c for u, c in claims.items() if u in old and len(c) > 1}
    assert not twice, f"{key}: claimed by more than one resource: {twice}"
    # Anything new is a component of its own (no effect on the site); a new custom resource would be created.
    new = [r for r in now if r.urn not in old and not set(r.aliases) & set(old) and r.type not in NEW_RESOURCES]
    assert all(not r.custom or r.urn.split("::")[2].split("$")[-1] in NEW_KINDS for r in new), \
        [r.urn for r in new if r.custom]


def test_the_moved_resources_carry_their_old_urn_as_an_alias(release):
    """The Kubernetes dumps split in two and the pull Secret moved to the registry login: the
    Job, the CronJob and the Secret keep their objects through an alias each."""
    cfg, secrets = sites()["kubernetes-tls-login"]
    now = {r.type: r for r in evaluate(cfg, set(secrets)).resources if r.urn not in release["sites"]["kubernetes-tls-login"]}
    site = cfg["o3:site"]["name"]
    for kind, was in (("kubernetes:batch/v1:Job", f"KubeDumps$kubernetes:batch/v1:Job::{site}-dumps-pre-upgrade"),
                      ("kubernetes:batch/v1:CronJob", f"KubeDumps$kubernetes:batch/v1:CronJob::{site}-dumps-nightly"),
                      ("kubernetes:core/v1:Secret", f"KubeNamespace$kubernetes:core/v1:Secret::{site}-namespace-pull-secret")):
        assert kind in now, f"{kind} did not move"
        assert any(a.endswith(was) for a in now[kind].aliases), (kind, now[kind].aliases)


def component_classes() -> list[tuple[Path, str, str]]:
    """(file, class, type token's last part) of every ComponentResource under components/."""
    found = []
    for path in sorted(COMPONENTS.glob("*/*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(ast.unparse(b).endswith("ComponentResource") for b in node.bases):
                tokens = [v.value for c in ast.walk(node) if isinstance(c, ast.Call)
                          and ast.unparse(c.func) == "super().__init__" and isinstance(c.args[0], ast.JoinedStr)
                          for v in c.args[0].values if isinstance(v, ast.Constant)]
                assert len(tokens) == 1, f"{path.name}: {node.name} should name one type token: {tokens}"
                found.append((path, node.name, tokens[0]))
    return found


def test_each_component_class_is_named_as_its_type_token():
    classes = component_classes()
    assert len(classes) >= 19
    wrong = [f"{p.parent.name}/{p.name}: {cls} registers as {token}" for p, cls, token in classes if cls != token]
    assert not wrong, wrong
    kube = [cls for p, cls, _ in classes if p.parent.name == "kubernetes"]
    assert all(c.startswith("Kube") for c in kube), kube


def test_both_platforms_have_the_same_files_for_the_same_parts():
    docker = {p.name for p in (COMPONENTS / "docker").glob("*.py")}
    kube = {p.name for p in (COMPONENTS / "kubernetes").glob("*.py")}
    assert docker - kube == set() and kube - docker == KUBE_ONLY, (sorted(docker - kube), sorted(kube - docker))



@pytest.mark.parametrize("file", [p.name for p in sorted((COMPONENTS / "kubernetes").glob("*.py"))
                                  if p.name not in KUBE_ONLY | {"__init__.py"}])
def test_a_kubernetes_component_is_kube_and_its_docker_counterparts_name(file):
    classes: dict[tuple[str, str], set[str]] = {}
    for p, cls, _ in component_classes():
        classes.setdefault((p.parent.name, p.name), set()).add(cls)
    want = {KUBE_OWN_NAMES[file]} if file in KUBE_OWN_NAMES else {f"Kube{c}" for c in classes[("docker", file)]}
    assert classes[("kubernetes", file)] == want
