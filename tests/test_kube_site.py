"""A Kubernetes site on the SDK's mock engine: its config (each platform refuses the other's keys,
by name), and what the program registers for it (the guide's names, one singleton, secrets only
by reference, requests that meet the sizing table, data that outlives `destroy`)."""

from __future__ import annotations

import copy
import json
import math
import shutil
from pathlib import Path

import pulumi
import pytest
from pydantic import BaseModel
from ruamel.yaml import YAML

from engine import evaluate, last_run
from ops import backup, fleet, restore
from ops import sizing as sizing_cmd
from site_fixtures import BASE, PASSWORD
from sitespec import sizing
from sitespec.config import SiteConfig, platforms
from sitespec.containers import CONTAINERS
from sitespec.guide import FOLDERS

KUBE = {
    "o3:platform": "kubernetes",
    "o3:site": {"name": "big-site", "timezone": "Europe/Rome", "concurrentUsers": 60, "pathology": True,
                "examsPerDay": 100},
    "o3:images": copy.deepcopy(BASE["o3:images"]),
    "o3:kubernetes": {"storageClass": "nas-rwx", "storageGb": 500},
    "o3:dbPassword": PASSWORD,
}
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
SERVICE = "kubernetes:core/v1:Service"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"


def kube(**changes) -> dict:
    cfg = copy.deepcopy(KUBE)
    for key, value in changes.items():
        if value is None:
            cfg.pop(key, None)
        else:
            cfg[key] = value
    return cfg


@pytest.fixture(scope="module")
def site():
    return evaluate(KUBE, {"o3:dbPassword"})


def _name(r) -> str:
    return r.plain("metadata")["name"]


def _workload(ev, kind: str, name: str):
    (found,) = [r for r in ev.of_type(kind) if _name(r) == name]
    return found


def _container(r) -> dict:
    return r.plain("spec")["template"]["spec"]["containers"][0]


# --- the config ---------------------------------------------------------------------------------

# Every key the models mark OnlyOn("docker"), read from the models: a new one is tested with no edit here.
DOCKER_ONLY = list(platforms.owned(SiteConfig, "docker"))


def test_the_docker_only_keys_come_from_the_models():
    keys = [key for key, _, _ in DOCKER_ONLY]
    assert {"docker:host", "o3:host", "o3:site.storagePath", "o3:logs.maxSizeMb"} <= set(keys), keys


def _valid_value(path: tuple[str, ...], f):
    """A value the key accepts: the Docker fixture's, else the field's example, else its default."""
    value = BASE.get(f"o3:{path[0]}")
    for part in path[1:]:
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        value = f.examples[0] if f.examples else f.get_default(call_default_factory=True)
    assert value is not None, f"give {path} an example (Field(examples=[...])) so this test can set it"
    return value.model_dump(by_alias=True) if isinstance(value, BaseModel) else value


@pytest.mark.parametrize("key, path, field", DOCKER_ONLY, ids=[k for k, _, _ in DOCKER_ONLY])
def test_docker_only_keys_are_refused_on_kubernetes_naming_the_key(key, path, field):
    cfg = kube()
    if key.startswith("o3:"):
        value = _valid_value(path, field)
        for part in reversed(path[1:]):
            value = {part: value}
        cfg[f"o3:{path[0]}"] = {**cfg.get(f"o3:{path[0]}", {}), **value} if isinstance(value, dict) else value
    else:
        cfg[key] = _valid_value(path, field)
    with pytest.raises(pulumi.RunError) as err:
        evaluate(cfg, {"o3:dbPassword"})
    assert f"{key}: is for o3:platform docker only" in str(err.value)
    assert last_run().resources == []


def test_kubernetes_keys_are_refused_on_docker_and_required_on_kubernetes():
    docker = copy.deepcopy(BASE)
    docker["o3:kubernetes"] = {"storageClass": "nas", "storageGb": 100}
    with pytest.raises(pulumi.RunError) as err:
        evaluate(docker)
    assert "o3:kubernetes: is for o3:platform kubernetes only" in str(err.value)
    with pytest.raises(pulumi.RunError) as err:
        evaluate(kube(**{"o3:kubernetes": None}), {"o3:dbPassword"})
    assert "o3:kubernetes: missing while o3:platform is kubernetes" in str(err.value)
    with pytest.raises(pulumi.RunError) as err:
        evaluate(kube(**{"o3:platform": "nomad"}), {"o3:dbPassword"})
    assert "o3:platform" in str(err.value) and "'docker' or 'kubernetes'" in str(err.value)


def test_an_external_mysql_by_host_name_must_listen_on_3306():
    cfg = kube()
    cfg["o3:kubernetes"]["database"] = {"externalHost": "mysql.hospital.example", "externalPort": 3307}
    with pytest.raises(pulumi.RunError) as err:
        evaluate(cfg, {"o3:dbPassword"})
    assert "externalPort other than 3306 needs externalHost to be an IP address" in str(err.value)


# --- what runs --------------------------------------------------------------------------------------

def test_the_guides_names_ports_and_variables(site):
    names = {_name(r) for r in site.of_type(DEPLOYMENT)} | {_name(r) for r in site.of_type(STATEFULSET)}
    assert names == {"pacs", "pacs-singleton", "view", "db"}
    db_service = [r for r in site.of_type(SERVICE) if _name(r) == "db"]
    assert len(db_service) == 1 and db_service[0].plain("spec")["type"] == "ClusterIP"
    assert db_service[0].plain("spec")["ports"][0]["port"] == 3306
    pacs = _container(_workload(site, DEPLOYMENT, "pacs"))
    assert {p["containerPort"] for p in pacs["ports"]} == {8080, 4568}
    assert {m["mountPath"] for m in pacs["volumeMounts"]} == {"/opt/storagePacs", "/opt/ipm/log", "/opt/ipm/shared-persist"}
    env = {e["name"]: e for e in pacs["env"]}
    assert env["LOG_TO"]["value"] == "FILE" and env["TZ"]["value"] == "Europe/Rome"
    assert env["DPACS_CONNECTION_STRING"]["valueFrom"]["secretKeyRef"] == {"name": "o3-db", "key": "DPACS_CONNECTION_STRING"}
    # Every container's variables, exactly: test_each_container_gets_exactly_the_described_variables.


# A variable a site adds (o3:extraEnv) per container.
EXTRA_ENV = {"db": {"O3_TEST_DB": "1"}, "pacs": {"JAVA_OPTS": "-Xmx8g"}, "pacsSingleton": {"O3_TEST_S": "s"},
             "view": {"JAVA_OPTS": "-Xmx4g", "O3_TEST_V": "v"}}


@pytest.fixture(scope="module")
def site_with_extra_env():
    return evaluate(kube(**{"o3:extraEnv": EXTRA_ENV}), {"o3:dbPassword"})


def _guide_workload(ev, name: str):
    return _workload(ev, STATEFULSET if name in ("db", "pacs-singleton") else DEPLOYMENT, name)


@pytest.mark.parametrize("extra", [False, True], ids=["guide", "extraEnv"])
@pytest.mark.parametrize("name", sorted(CONTAINERS))
def test_each_container_gets_exactly_the_described_variables(site, site_with_extra_env, name, extra):
    # The description (sitespec/containers.py, held to the guide by tests/test_guide_contract.py):
    # literal variables by value, the connection strings only by reference to the Secret.
    c = CONTAINERS[name]
    entries = _container(_guide_workload(site_with_extra_env if extra else site, name))["env"]
    names = [e["name"] for e in entries]
    assert len(names) == len(set(names))
    literal = {e["name"]: e["value"] for e in entries if "value" in e}
    by_ref = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in entries if "valueFrom" in e}
    assert set(literal) | set(by_ref) == set(names)  # each entry a value or a reference
    assert literal == c.literal_env("Europe/Rome", EXTRA_ENV[c.extra_env_key] if extra else {})
    assert by_ref == {var: {"name": "o3-db", "key": var} for var in c.secret_env}


@pytest.mark.parametrize("name", ["pacs", "pacs-singleton", "view"])
def test_apps_mounts_ports_probe_and_stop_are_the_described(site, name):
    c = CONTAINERS[name]
    pod = _guide_workload(site, name).plain("spec")["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == c.stop_grace_seconds == 30
    ctr = pod["containers"][0]
    assert [p["containerPort"] for p in ctr.get("ports") or []] == [p.number for p in c.ports]
    assert {(m["mountPath"], m["subPath"]) for m in ctr["volumeMounts"]} == {(path, FOLDERS[role]) for role, path in c.mounts}
    if c.probe is None:
        assert "readinessProbe" not in ctr and "lifecycle" not in ctr
    else:
        assert ctr["readinessProbe"]["httpGet"] == {"path": c.probe.path, "port": c.probe.port}
        assert ctr["livenessProbe"]["tcpSocket"] == {"port": c.probe.port}
        if name == "pacs-singleton":  # nothing to drain: no Service sends it requests
            assert "lifecycle" not in ctr and c.drain_seconds == 0
        else:
            assert ctr["lifecycle"]["preStop"]["sleep"]["seconds"] == c.drain_seconds == 5


def test_exactly_one_singleton_never_two_at_once(site):
    # A StatefulSet of one: its controller never starts pacs-singleton-0 while a pod of that name
    # exists (terminating, or on a node that stopped answering), where a Deployment's ReplicaSet does.
    assert "pacs-singleton" not in {_name(r) for r in site.of_type(DEPLOYMENT)}
    singleton = _workload(site, STATEFULSET, "pacs-singleton")
    spec = singleton.plain("spec")
    assert spec["replicas"] == 1 and spec["podManagementPolicy"] == "OrderedReady"
    # The Deployment of earlier releases is this resource (an alias of the old type): the engine
    # replaces it, deleting the Deployment and its pod before the StatefulSet starts its own.
    assert singleton.delete_before_replace
    assert singleton.urn.replace("kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:Deployment") in singleton.aliases
    env = {e["name"]: e.get("value") for e in _container(singleton)["env"]}
    assert env["START_PERIODIC_SERVICES"] == "true"
    assert "topologySpreadConstraints" not in spec["template"]["spec"]  # one pod: nothing to spread
    for name in ("pacs", "view"):
        assert "START_PERIODIC_SERVICES" not in {e["name"] for e in _container(_workload(site, DEPLOYMENT, name))["env"]}


def test_the_schema_job_runs_the_docker_sites_schema_script(site):
    # One schema step for both platforms: the Job runs, from the scripts' ConfigMap, the very text
    # the Docker site's schema command runs (after its ssh prelude).
    (job,) = [r for r in site.of_type("kubernetes:batch/v1:Job")
              if r.plain("metadata")["labels"]["app.kubernetes.io/name"] == "schemas"]
    command = _container(job)["command"]
    (scripts,) = [r for r in site.of_type("kubernetes:core/v1:ConfigMap") if _name(r) == "o3-scripts"]
    text = scripts.plain("data")[command[-1].rsplit("/", 1)[-1]]
    docker_step = evaluate(dict(BASE, **{"o3:dbPassword": PASSWORD}), {"o3:dbPassword"}).command("-create")
    assert "CREATE SCHEMA IF NOT EXISTS" in text and docker_step.plain("create").endswith(text)
    env = {e["name"]: e for e in _container(job)["env"]}
    assert env["O3_DB_HOST"]["value"] == "db" and "O3_DB_CONTAINER" not in env
    assert env["MYSQL_PWD"]["valueFrom"]["secretKeyRef"]["name"] == "o3-db"


def test_no_secret_is_a_literal_in_any_pod_spec_or_config_map(site):
    for r in site.resources:
        if r.type.startswith("kubernetes:") and r.type != "kubernetes:core/v1:Secret":
            assert PASSWORD not in repr(r.plain("spec")) + repr(r.plain("data")), r.name
    (secret,) = site.of_type("kubernetes:core/v1:Secret")
    assert secret.plain("stringData")["password"] == PASSWORD
    assert "stringData" in secret.additional_secret_outputs


def test_replicas_and_requests_follow_the_sizing_table(site):
    req = sizing.requirements(60, True, 100)
    assert req.cores.value == 90
    replicas = {name: _workload(site, DEPLOYMENT, name).plain("spec")["replicas"] for name in ("pacs", "view")}
    assert replicas == {"pacs": 3, "view": 3}  # one per started 25 users, at least 2
    cpu = mem = 0.0
    for r in site.of_type(DEPLOYMENT) + site.of_type(STATEFULSET):
        res = _container(r)["resources"]
        n = r.plain("spec")["replicas"]
        cpu += int(res["requests"]["cpu"].removesuffix("m")) / 1000 * n
        mem += int(res["requests"]["memory"].removesuffix("Mi")) / 1024 * n
    assert cpu >= req.cores.value and mem >= req.memory_gb.value
    assert cpu < req.cores.value + 1, "requests are the minimum, not a multiple of it"


@pytest.mark.parametrize("users, pacs, view", [(10, None, None), (35, 4, None), (150, None, 2)])
def test_the_sum_of_requests_meets_the_table_for_any_replica_count(users, pacs, view):
    req = sizing.requirements(users)
    plan = sizing.kube_plan(req, users, pacs, view)
    assert plan.replicas["pacs"] == (pacs or max(2, math.ceil(users / 25)))
    assert plan.total_cores >= req.cores.value and plan.total_memory_gb >= req.memory_gb.value


def test_rollouts_keep_every_ready_pod_and_probe_the_apps(site):
    for name, port in (("pacs", 8080), ("view", 8181)):
        r = _workload(site, DEPLOYMENT, name)
        assert r.plain("spec")["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        c = _container(r)
        assert c["readinessProbe"]["httpGet"]["port"] == port and "livenessProbe" in c and "startupProbe" in c
        assert c["lifecycle"]["preStop"]["sleep"]["seconds"] > 0


def test_the_data_volumes_and_the_namespace_outlive_destroy(site):
    claims = {_name(r): r for r in site.of_type(PVC)}
    assert set(claims) == {"o3-data", "db-data"}
    assert claims["o3-data"].plain("spec")["accessModes"] == ["ReadWriteMany"]
    assert claims["o3-data"].plain("spec")["storageClassName"] == "nas-rwx"
    assert all(r.retain_on_delete for r in claims.values())
    (namespace,) = site.of_type("kubernetes:core/v1:Namespace")
    assert namespace.retain_on_delete, "deleting the namespace would delete the claims in it"


def test_a_change_of_images_makes_a_new_pre_upgrade_dump_that_the_workloads_wait_for(site):
    jobs = [r for r in site.of_type("kubernetes:batch/v1:Job") if r.name.endswith("-pre-upgrade")]
    assert len(jobs) == 1
    dump = jobs[0]
    assert "_to_db-8.0.34_pacs-1.2.3_view-4.5.6" in dump.plain("spec")["template"]["spec"]["containers"][0]["command"]
    for r in site.of_type(STATEFULSET) + site.of_type(DEPLOYMENT):
        assert dump.urn in r.dependencies, r.name


def test_https_on_kubernetes_is_the_same_front_door_and_the_plain_ports_leave_the_public_services():
    from tlsfixtures import SITE_CA, SITE_HOST

    issued = SITE_CA.issue(SITE_HOST)
    cfg = kube()
    cfg["o3:site"]["publicHost"] = SITE_HOST
    cfg["o3:tls"] = {"enabled": True, "certificate": issued.cert_pem}
    cfg["o3:tlsKey"] = issued.key_pem
    ev = evaluate(cfg, {"o3:dbPassword", "o3:tlsKey"})
    services = {_name(r): r.plain("spec") for r in ev.of_type(SERVICE)}
    assert "view-public" not in services
    assert [p["port"] for p in services["pacs-public"]["ports"]] == [4568]
    assert {(p["port"], p["targetPort"]) for p in services["o3-proxy"]["ports"]} == {(443, 443), (8443, 8443)}
    proxy = _workload(ev, DEPLOYMENT, "o3-proxy")
    assert proxy.plain("spec")["replicas"] == 2 and proxy.plain("spec")["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    tls = [r for r in ev.of_type("kubernetes:core/v1:Secret") if _name(r) == "o3-tls"][0]
    assert tls.plain("type") == "kubernetes.io/tls" and tls.plain("stringData")["tls.key"] == issued.key_pem
    assert issued.key_pem not in repr(proxy.plain("spec"))
    (conf,) = [r for r in ev.of_type("kubernetes:core/v1:ConfigMap") if _name(r) == "o3-proxy"]
    text = conf.plain("data")["default.conf"]
    assert "proxy_pass http://view:8181;" in text and "proxy_pass http://pacs:8080;" in text and "127.0.0.11" not in text
    assert ev.outputs["viewUrl"].startswith(f"https://{SITE_HOST}:")


def test_day2_commands_read_a_kubernetes_stack(tmp_path, capsys, monkeypatch):
    """ops.sizing and ops.fleet show a Kubernetes site by its requests; ops.backup and ops.restore
    name the missing kubeconfig, without a traceback (exit 2)."""
    root = tmp_path
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    shutil.copy(Path(__file__).resolve().parent.parent / "Pulumi.yaml", root)
    cfg = {k: v for k, v in KUBE.items() if k != "o3:dbPassword"}
    cfg["o3:kubernetes"] = {**cfg["o3:kubernetes"], "namespace": "pathology"}
    with (root / "Pulumi.big.yaml").open("w") as f:
        YAML().dump({"config": cfg}, f)
    assert sizing_cmd.main(["--stack", "big", "--dir", str(root)]) == 0
    assert "cpuCores: 90" in capsys.readouterr().out
    assert fleet.main(["--dir", str(root), "--json", "--declared-only"]) == 0
    (r,) = json.loads(capsys.readouterr().out)
    assert r["platform"] == "kubernetes" and r["namespace"] == "pathology" and r["host"]["cpuCores"] == 90
    for cmd, args in ((backup, []), (restore, ["--file", "o3-nightly-x.sql.gz", "--yes"])):
        assert cmd.main(["--stack", "big", "--dir", str(root), *args]) == 2
        err = capsys.readouterr().err
        assert "no kubeconfig at" in err and "kubernetes:kubeconfig" in err and "Traceback" not in err


@pytest.mark.parametrize("host, port, kind", [("10.20.30.40", 3307, "ClusterIP"), ("mysql.hospital.example", 3306, "ExternalName")])
def test_an_external_mysql_is_still_db_3306_to_the_apps(host, port, kind):
    cfg = kube()
    cfg["o3:kubernetes"]["database"] = {"externalHost": host, "externalPort": port, "user": "o3app"}
    ev = evaluate(cfg, {"o3:dbPassword"})
    assert [_name(r) for r in ev.of_type(STATEFULSET)] == ["pacs-singleton"]  # no db
    assert not [r for r in ev.of_type(PVC) if _name(r) == "db-data"]
    (db,) = [r for r in ev.of_type(SERVICE) if _name(r) == "db"]
    spec = db.plain("spec")
    assert spec["type"] == kind and spec["ports"][0]["port"] == 3306
    slices = ev.of_type("kubernetes:discovery.k8s.io/v1:EndpointSlice")
    if kind == "ClusterIP":
        assert "selector" not in spec and spec["ports"][0]["targetPort"] == port
        (slice_,) = slices
        assert slice_.plain("endpoints") == [{"addresses": [host]}] and slice_.plain("ports")[0]["port"] == port
        assert slice_.plain("metadata")["labels"]["kubernetes.io/service-name"] == "db"
    else:
        assert spec["externalName"] == host and not slices
    (secret,) = ev.of_type("kubernetes:core/v1:Secret")
    assert "username=o3app;" in secret.plain("stringData")["DPACS_CONNECTION_STRING"]
    assert "jdbc:mysql://db:3306/" in secret.plain("stringData")["DPACS_CONNECTION_STRING"]
