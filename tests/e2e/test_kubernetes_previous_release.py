"""The previous release's Kubernetes site taken over by this one (tests/e2e/test_previous_release.py
says what is proved and how): the preview shows no change and no replacement, and an `up` keeps every
Kubernetes object (the same uids). Apart from the Docker case, so that it runs with the cluster's
scenarios."""

from __future__ import annotations

import shutil

import pytest

from e2e_harness import Project
from kube_harness import kube_json, kube_stack_config, kubectl, new_workdir
from site_fixtures import PASSWORD, REGISTRY_KEY
from takeover_harness import assert_takeover_keeps_everything

pytestmark = pytest.mark.e2e


KUBE_SITE = "prev-site"  # its own namespace, beside test_kubernetes.py's


def kube_objects(namespace: str) -> dict[str, str]:
    """The site's objects (kind/name -> uid), its namespace included; a replaced object has a new uid."""
    items = kube_json("get", "deployments,statefulsets,services,jobs,cronjobs,secrets,configmaps,pvc",
                      "-n", namespace, "-l", "app.kubernetes.io/part-of=o3")["items"]
    # A Job by its role (schemas, backup): its name is an autoname, new when it is replaced.
    found = {f"{i['kind']}/{i['metadata']['labels']['app.kubernetes.io/name'] if i['kind'] == 'Job' else i['metadata']['name']}":
             i["metadata"]["uid"] for i in items
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
            {"o3:dbPassword": PASSWORD, "o3:registryKey": REGISTRY_KEY}, lambda: kube_objects(KUBE_SITE),
            # the schema script's new text, the singleton now a StatefulSet (SCRIPT_CHANGES), the Jobs'
            # templates' securityContext (LOCKDOWN_CHANGES)
            recreated=frozenset({"ConfigMap/o3-scripts", "Deployment/pacs-singleton", "StatefulSet/pacs-singleton",
                                 "Job/schemas", "Job/backup"}))
        assert {"Secret/o3-registry", "CronJob/o3-maintenance", "Deployment/pacs", "StatefulSet/db"} <= set(seen), seen
        assert sum(k.startswith("Job/") for k in seen) == 2, seen  # the pre-upgrade dump and the schema step
    finally:
        project.destroy(check=False)
        project.remove()
        kubectl("delete", "namespace", KUBE_SITE, "--ignore-not-found", "--wait=true", check=False, timeout=600)
        shutil.rmtree(work, ignore_errors=True)
