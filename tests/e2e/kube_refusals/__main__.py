"""A Kubernetes site the policy pack must refuse, in one of three ways (config `case`): pods that
request less than the sizing table, two singletons, or a password as a literal in a pod spec.
The shapes are the program's own (components/kubernetes) with one thing wrong; the tests expect
`pulumi up --policy-pack policy` to refuse it before anything is created."""

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from sitespec.facts import FACTS_KIND

cfg = pulumi.Config()
case = cfg.require("case")
namespace = cfg.require("namespace")
password = "Refusal-Secret_Pw.2026"

random.RandomId("refusals-site-facts", byte_length=4, keepers={
    "kind": FACTS_KIND, "platform": "kubernetes", "site": "refusals", "concurrentUsers": "10", "pathology": "false",
    "examsPerDay": "20", "storageGb": "100"})
ns = k8s.core.v1.Namespace("namespace", metadata={"name": namespace})
k8s.core.v1.PersistentVolumeClaim("data", metadata={"name": "o3-data", "namespace": namespace}, spec={
    "accessModes": ["ReadWriteMany"], "storageClassName": "o3-nas", "resources": {"requests": {"storage": "100Gi"}}},
    opts=pulumi.ResourceOptions(depends_on=[ns]))


def deployment(name: str, replicas: int, cpu: str, env: list, strategy: str = "RollingUpdate") -> None:
    labels = {"app.kubernetes.io/name": name}
    k8s.apps.v1.Deployment(name, metadata={"name": name, "namespace": namespace}, spec={
        "replicas": replicas, "strategy": {"type": strategy}, "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [{
            "name": name, "image": "registry.o3.test/o3-cloud-internal/partner/pacs-cloud:2.8.1", "env": env,
            "resources": {"requests": {"cpu": cpu, "memory": "2Gi"}}}]}}},
        opts=pulumi.ResourceOptions(depends_on=[ns]))


dpacs = {"name": "DPACS_CONNECTION_STRING", "valueFrom": {"secretKeyRef": {"name": "o3-db", "key": "DPACS_CONNECTION_STRING"}}}
periodic = {"name": "START_PERIODIC_SERVICES", "value": "true"}
big = "3000m" if case != "requests" else "100m"  # 2 x 3 cores: enough, unless the case is the requests
deployment("pacs", 2, big, [dpacs])
deployment("pacs-singleton", 2 if case == "singletons" else 1, big, [dpacs, periodic], strategy="Recreate")
if case == "singletons":
    deployment("pacs-singleton-2", 1, big, [dpacs, periodic], strategy="Recreate")
if case == "plaintext":
    deployment("view", 2, big, [{"name": "NGV_CONNECTION_STRING", "value": f"jdbc:mysql://db:3306/public_view;username=root;password={password}"}])
else:
    deployment("view", 2, big, [{"name": "NGV_CONNECTION_STRING", "valueFrom": {"secretKeyRef": {"name": "o3-db", "key": "NGV_CONNECTION_STRING"}}}])
