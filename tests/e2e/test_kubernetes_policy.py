"""The policy pack's refusals on Kubernetes, with the real CLI, engine and provider: a program
(tests/e2e/kube_refusals) that registers the site's shapes with one thing wrong is refused by
`pulumi up --policy-pack policy` naming the rule, and nothing is created on the cluster."""

from __future__ import annotations

import os
import shutil

import pytest

from e2e_harness import Project
from kube_harness import kubectl, new_workdir

pytestmark = pytest.mark.e2e
HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture
def refusal(pulumi_env, kube_cluster):
    made = []

    def make(case: str) -> Project:
        work = new_workdir(f"o3-e2e-kube-refusal-{case}-")
        p = Project(work, f"refusal-{case}", pulumi_env)
        # the refusals program instead of the site's, beside the domain package it reads the facts' names from
        for f in ("Pulumi.yaml", "__main__.py"):
            shutil.copy(os.path.join(HERE, "kube_refusals", f), p.dir / f)
        for d in ("components",):
            shutil.rmtree(p.dir / d, ignore_errors=True)
        p.init({"o3-refusals:case": case, "o3-refusals:namespace": f"refusal-{case}",
                "kubernetes:kubeconfig": kube_cluster})
        made.append((p, work))
        return p

    yield make
    for p, work in made:
        p.destroy(check=False)
        p.remove()
        shutil.rmtree(work, ignore_errors=True)


@pytest.mark.parametrize("case, rule, words", [
    ("requests", "o3-sizing-cores", "the pods request 0.5 cores, 6 cores required"),
    ("singletons", "o3-periodic-singleton", "'pacs-singleton' runs 2 replicas: the periodic jobs would run 2 times"),
    ("plaintext", "o3-no-plaintext-secrets", "variable NGV_CONNECTION_STRING is a literal in the pod spec"),
])
def test_the_pack_refuses_and_nothing_is_created(refusal, case, rule, words):
    p = refusal(case)
    out = p.up(check=False)
    text = out.stdout + out.stderr
    assert out.returncode != 0 and rule in text and "mandatory" in text and words in text, text[-4000:]
    assert [r["type"] for r in p.resources() if r["type"].startswith(("kubernetes:", "random:"))] == []
    assert f"refusal-{case}" not in kubectl("get", "namespaces", "-o", "name")

