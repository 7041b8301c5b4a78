"""ops.verify's shared checks over the facts each platform supplies, and each platform's facts,
on stand-ins for the Docker host and the cluster (the real ones: tests/contract/test_verify.py,
tests/contract/test_preflight.py, tests/e2e/test_kubernetes.py)."""

from __future__ import annotations

import copy
import datetime as dt
import re
from pathlib import Path
from types import SimpleNamespace as NS

import pytest

from ops import verify
from ops._checks import FAIL, PASS, WARN, Check
from ops._cli import OpsError
from ops._cluster import ClusterAccess, DeployedKubeSite
from ops._docker import Docker
from ops._kubernetes import Kubernetes, check_capacity, free_on_nodes
from ops._platform import Answer, App, Nightly, Platform, Reply, Unavailable
from ops._site import Exec
from site_fixtures import BASE, PACS, VIEW
from sitespec import sizing
from sitespec.stackfile import validate

ROOT = Path(__file__).resolve().parent.parent
NOW = 1_800_000_000.0
HOUR = 3600.0


@pytest.fixture(autouse=True)
def no_pause(monkeypatch):
    monkeypatch.setattr(verify, "ANSWER_PAUSE", 0)


def docker_cfg(**changes):
    return validate({**copy.deepcopy(BASE), **changes}, set())


def kube_cfg(**kubernetes):
    return validate({"o3:platform": "kubernetes", "o3:images": copy.deepcopy(BASE["o3:images"]),
                     "o3:site": {"name": "big-site", "timezone": "Europe/Rome", "concurrentUsers": 10, "examsPerDay": 100},
                     "o3:kubernetes": {"storageClass": "nas-rwx", "storageGb": 500, **kubernetes}}, set())


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


# --- the shared checks, over a platform of facts ----------------------------------------------------

class Facts(Platform):
    """A platform whose facts a test sets; its own checks mark where they stand in the report."""

    unit, listing = "box", "`list-boxes`"

    def __init__(self, **facts):
        super().__init__(docker_cfg())
        self.connected = False
        self.apps = facts.get("apps", {"pacs": App("i1", "i1", "pacs:1 (i1)", "pacs:1 (i1)", "up on pacs:1")})
        self.where = facts.get("singletons", ["box1"])
        self.query = facts.get("sql", Exec(0, "information_schema\npublic_pacs\npublic_view", ""))
        self.replies = facts.get("replies", {"pacs http": [Reply(True, 200)]})
        self.dumps = facts.get("nightly", Nightly(since=NOW - 48 * HOUR, logs="`boxlog`", newest=NOW - 2 * HOUR))
        self.asked: dict[str, int] = {}

    def preflight(self):
        return []

    def connect(self):
        self.connected = True

    def declared(self):
        return {name: "ref" for name in self.apps}

    def app(self, name, ref):
        if isinstance(self.apps[name], Unavailable):
            raise self.apps[name]
        return self.apps[name]

    def singletons(self):
        return self.where

    def sql(self, query):
        assert query == "SHOW DATABASES"
        if isinstance(self.query, Unavailable):
            raise self.query
        return self.query

    def answers(self):
        def get(name):
            self.asked[name] = self.asked.get(name, 0) + 1
            replies = self.replies[name]
            return replies[min(self.asked[name], len(replies)) - 1]

        return [Answer(name, f"http://{name}/", lambda n=name: get(n), "look at it") for name in self.replies]

    def nightly(self):
        if isinstance(self.dumps, Unavailable):
            raise self.dumps
        return self.dumps

    def before_schemas(self):
        return [("own 1", lambda: Check("own 1", PASS, "before the schemas"))]

    def after_answers(self):
        return [("own 2", lambda: Check("own 2", PASS, "after the answers"))]

    def after_backup(self):
        def broken():
            raise RuntimeError("disk on fire")

        return [("own 3", broken)]


def test_the_report_runs_the_shared_checks_and_the_platforms_own_in_order():
    p = Facts()
    checks = verify.run_checks(p)
    assert p.connected
    assert [(c.name, c.status) for c in checks] == [
        ("pacs", PASS), ("singleton", PASS), ("own 1", PASS), ("schemas", PASS), ("pacs http", PASS),
        ("own 2", PASS), ("backup", PASS), ("own 3", FAIL)]
    assert checks[-1].measured == "could not check: RuntimeError: disk on fire"


def test_an_unreachable_site_is_not_a_list_of_failed_checks():
    class Unreachable(Facts):
        def connect(self):
            raise OpsError("cannot reach the site")

    with pytest.raises(OpsError):
        verify.run_checks(Unreachable())


def test_an_app_that_is_down_or_on_another_image_fails_with_the_fix():
    p = Facts(apps={"db": Unavailable("exited, not running", "start it"),
                    "view": App("i2", "i3", "view:1 (i2)", "view:2 (i3)", "up")})
    checks = verify.check_apps(p)
    assert checks[0] == Check("db", FAIL, "exited, not running", "start it")
    assert checks[1] == Check("view", FAIL, "runs view:1 (i2), not the declared view:2 (i3)",
                              "run `pulumi up` to replace it with the declared image")


@pytest.mark.parametrize("where, measured", [([], "0 pacs-singleton boxs run, exactly one must"),
                                             (["a", "b"], "2 pacs-singleton boxs run, exactly one must")])
def test_not_exactly_one_singleton_fails(where, measured):
    c = verify.check_singleton(Facts(singletons=where))
    assert (c.status, c.measured) == (FAIL, measured) and "`list-boxes`" in c.fix
    assert verify.check_singleton(Facts(singletons=["node2"])).measured == "one pacs-singleton box (node2)"


@pytest.mark.parametrize("sql, status, measured", [
    (Exec(0, "public_pacs\nmysql", ""), FAIL, "missing: public_view"),
    (Exec(1, "", "Access denied"), FAIL, "cannot query MySQL: Access denied"),
    (Unavailable("MySQL is external", status=WARN), WARN, "MySQL is external"),
    (Unavailable("db is not running"), FAIL, "db is not running"),
])
def test_the_schemas(sql, status, measured):
    c = verify.check_schemas(Facts(sql=sql))
    assert (c.status, c.measured) == (status, measured)


def test_an_app_is_asked_again_until_it_answers():
    p = Facts(replies={"view http": [Reply(False, reason="refused"), Reply(True, 503), Reply(True, 404, hsts=True)],
                       "pacs http": [Reply(True)]})
    view, pacs = [verify.check_answer(a) for a in p.answers()]
    assert view == Check("view http", PASS, "http://view http/ answers 404 with HSTS")
    assert pacs == Check("pacs http", PASS, "http://pacs http/ answers")  # the status was not told
    assert p.asked == {"view http": 3, "pacs http": 1}


@pytest.mark.parametrize("last, measured", [(Reply(False, reason="refused"), "does not answer (refused)"),
                                            (Reply(True, 502), "answers 502")])
def test_an_app_that_never_answers_fails_with_the_platforms_fix(last, measured):
    p = Facts(replies={"pacs http": [last]})
    (a,) = p.answers()
    assert verify.check_answer(a) == Check("pacs http", FAIL, f"http://pacs http/ {measured}", "look at it")
    assert p.asked["pacs http"] == verify.ANSWER_ATTEMPTS


@pytest.mark.parametrize("nightly, status, words", [
    (Nightly(NOW - 99 * HOUR, "`boxlog`", newest=NOW - 2 * HOUR, newest_name="o3-nightly-1.sql.gz"), PASS,
     "newest nightly dump o3-nightly-1.sql.gz, 2.0 h old"),
    (Nightly(NOW - 99 * HOUR, "`boxlog`", newest=NOW - 2 * HOUR), PASS, "newest nightly dump 2.0 h old"),
    (Nightly(NOW - 99 * HOUR, "`boxlog`", newest=NOW - 30 * HOUR), FAIL, "30.0 h old (more than 26 h)"),
    (Nightly(NOW - 3 * HOUR, "`boxlog`"), WARN, "no nightly dump yet (first one at 02:30 site time)"),
    (Nightly(NOW - 27 * HOUR, "`boxlog`"), FAIL, "no nightly dump yet"),
    (Nightly(NOW - 3 * HOUR, "`boxlog`", newest=NOW - HOUR, failed=("2026-11-27T02:30:00Z", "boom")), FAIL,
     "the last nightly run (2026-11-27T02:30:00Z) failed: boom"),
    (Unavailable("nothing takes dumps", "run `pulumi up`"), FAIL, "nothing takes dumps"),
])
def test_the_nightly_dumps(nightly, status, words):
    c = verify.check_backup(Facts(nightly=nightly), now=NOW)
    assert c.status == status and words in c.measured, c
    if status == FAIL and isinstance(nightly, Nightly) and (nightly.newest or nightly.failed):
        assert c.fix.startswith("`boxlog`; `python -m ops.backup`"), c


# --- Kubernetes: the facts, read from the cluster's API -----------------------------------------

def workload(image, replicas=2, ready=2, updated=2, generation=3, observed=3):
    return NS(spec=NS(replicas=replicas, template=NS(spec=NS(containers=[NS(image=image)]))),
              status=NS(ready_replicas=ready, updated_replicas=updated, observed_generation=observed),
              metadata=NS(generation=generation))


def pod(name, node="node1", phase="Running", terminating=False, ready=True):
    return NS(metadata=NS(name=name, deletion_timestamp="2026-12-06T21:00:00Z" if terminating else None),
              spec=NS(node_name=node), status=NS(phase=phase, conditions=[NS(type="Ready", status=str(ready))]))


class Cluster:
    """The parts of DeployedKubeSite that verify reads, as a healthy new site answers them."""

    where = "namespace big-site"

    def __init__(self):
        self.workloads = {"db": workload("mysql:8.0.34", replicas=1, ready=1, updated=1), "pacs": workload(PACS),
                          "pacs-singleton": workload(PACS, replicas=1, ready=1, updated=1), "view": workload(VIEW)}
        self.running = {"db": [pod("db-0")], "pacs-singleton": [pod("pacs-singleton-x", "node2")]}
        created = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
        self.cron = NS(status=NS(last_successful_time=None), metadata=NS(creation_timestamp=created))
        self.batch = NS(read_namespaced_cron_job=lambda name, ns: self.cron)
        self.claim = NS(status=NS(phase="Bound", capacity={"storage": "100G"}))
        endpoints = NS(subsets=[NS(addresses=[1, 2], ports=[NS(port=4568)])])
        self.core = NS(read_namespaced_endpoints=lambda name, ns: endpoints,
                       read_namespaced_persistent_volume_claim=lambda name, ns: self.claim)

    def workload(self, kind, name):
        return self.workloads.get(name)

    def pods(self, role, terminating=False):
        return [p for p in self.running.get(role, []) if terminating or not p.metadata.deletion_timestamp]

    kind = staticmethod(DeployedKubeSite.kind)
    db_pod = DeployedKubeSite.db_pod

    def exec(self, pod_name, command):
        assert pod_name == "db-0" and command[:2] == ["sh", "-c"]
        return "information_schema\npublic_pacs\npublic_view\n"

    def get(self, service, port):
        return "<html>"


def on_cluster(cluster=None, **kubernetes) -> Kubernetes:
    p = Kubernetes(kube_cfg(**kubernetes), ClusterAccess(None, None))
    p._site = cluster or Cluster()
    p.connect = lambda: None
    return p


def test_a_db_pod_on_a_node_that_stopped_answering_is_not_asked():
    # Its phase stays Running; only its Ready condition says a command would hang on the kubelet.
    cluster = Cluster()
    cluster.running["db"] = [pod("db-0", ready=False)]
    cluster.exec = lambda *a: pytest.fail("a command was sent to a pod that is not ready")
    found = by_name(verify.run_checks(on_cluster(cluster)))
    assert found["schemas"].status == FAIL and found["schemas"].measured == "no ready db pod"


def test_a_healthy_new_kubernetes_site_verifies_with_the_backup_warning_only():
    checks = verify.run_checks(on_cluster())
    assert [c.name for c in checks] == ["db", "pacs", "pacs-singleton", "view", "singleton", "schemas", "pacs http",
                                        "view http", "pacs 4568", "storage", "backup"]
    assert {c.name: c.status for c in checks if c.status != PASS} == {"backup": WARN}
    found = by_name(checks)
    assert found["pacs"].measured == "2/2 ready on 1.2.3"
    assert found["singleton"].measured == "one pacs-singleton pod (node2)"
    assert found["storage"].measured == "o3-data: 100G bound, 50 GB required"  # a decimal unit: 93 GiB


def test_a_kubernetes_rollout_that_is_not_done_or_on_another_image_fails():
    cluster = Cluster()
    cluster.workloads["pacs"] = workload(PACS, ready=1)
    cluster.workloads["view"] = workload(VIEW.replace("4.5.6", "4.5.5"))
    del cluster.workloads["db"]
    found = by_name(verify.check_apps(on_cluster(cluster)))
    assert found["db"] == Check("db", FAIL, "no StatefulSet db in namespace big-site", "run `pulumi up` for this stack")
    assert found["pacs"].measured == "rollout not complete: 1/2 ready, 2 updated"
    assert found["view"].measured == f"runs {VIEW.replace('4.5.6', '4.5.5')}, not the declared {VIEW}"


def test_no_singleton_pod_fails_on_kubernetes():
    cluster = Cluster()
    cluster.running["pacs-singleton"] = []
    c = verify.check_singleton(on_cluster(cluster))
    assert c.status == FAIL and c.measured.startswith("0 pacs-singleton pods run")


def test_a_terminating_singleton_beside_a_new_one_is_two_on_kubernetes():
    # Its containers may still run (a grace period, a node that stopped answering): two at once.
    cluster = Cluster()
    cluster.running["pacs-singleton"] = [pod("pacs-singleton-0", "node1", terminating=True),
                                         pod("pacs-singleton-0", "node2")]
    c = verify.check_singleton(on_cluster(cluster))
    assert c.status == FAIL and c.measured.startswith("2 pacs-singleton pods run"), c
    cluster.running["pacs-singleton"] = [pod("pacs-singleton-0", "node1", terminating=True)]
    c = verify.check_singleton(on_cluster(cluster))
    assert c.status == PASS and c.measured == "one pacs-singleton pod (node1 terminating)", c


def test_an_external_mysql_is_neither_an_app_nor_read():
    p = on_cluster(database={"externalHost": "mysql.hospital.example", "user": "o3app"})
    assert "db" not in p.declared()
    c = verify.check_schemas(p)
    assert c.status == WARN and "mysql.hospital.example" in c.measured


@pytest.mark.parametrize("capacity, status", [("100G", PASS), ("50Gi", PASS), ("53687091200", PASS), ("49Gi", FAIL),
                                              ("51G", FAIL)])
def test_the_data_volume_in_any_unit(capacity, status):
    cluster = Cluster()
    cluster.claim.status.capacity = {"storage": capacity}
    assert on_cluster(cluster).check_data_volume().status == status


def test_an_unanswering_service_and_an_old_dump_on_kubernetes():
    cluster = Cluster()

    def refused(service, port):
        if service == "view":
            raise OSError("Service Unavailable")

    cluster.get = refused
    cluster.cron.status.last_successful_time = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=40)
    found = by_name(verify.run_checks(on_cluster(cluster)))
    assert found["pacs http"].measured == "Service pacs:8080 answers"
    assert found["view http"] == Check("view http", FAIL, "Service view:8181 does not answer (Service Unavailable)",
                                       "`kubectl -n big-site logs deploy/view`")
    assert found["backup"].status == FAIL and "40.0 h old" in found["backup"].measured


def test_kubernetes_preflight_without_a_kubeconfig_is_one_failed_check(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    (c,) = Kubernetes(kube_cfg(), ClusterAccess(None, None)).preflight()
    assert c.name == "cluster" and c.status == FAIL and "no kubeconfig at" in c.measured


def node(name, cpu, memory, ready="True"):
    return NS(metadata=NS(name=name), status=NS(allocatable={"cpu": cpu, "memory": memory},
                                                conditions=[NS(type="Ready", status=ready)]))


def requesting(namespace, node_name, **requests):
    return NS(metadata=NS(namespace=namespace),
              spec=NS(node_name=node_name, containers=[NS(resources=NS(requests=requests))]))


def test_the_cluster_capacity_reads_quantities_in_any_unit():
    core = NS(
        list_node=lambda: NS(items=[node("n1", "8", "16Gi"), node("n2", "7500m", "32G"), node("n3", "64", "1Ti", "False")]),
        list_pod_for_all_namespaces=lambda field_selector: NS(items=[
            requesting("kube-system", "n1", cpu="500m", memory="512Mi"),
            requesting("other", "n2", cpu="1", memory="2G"),
            requesting("big-site", "n1", cpu="4", memory="8Gi"),  # the site's own: not competition
        ]))
    free = free_on_nodes(core, "big-site")
    assert sorted(free) == ["n1", "n2"]
    assert free["n1"] == pytest.approx((7.5, 15.5)) and free["n2"] == pytest.approx((6.5, 30e9 / 2**30))
    req, _ = sizing.for_site(kube_cfg())
    plan = sizing.kube_plan(req, 10, None, None)
    found = by_name(check_capacity(free, plan))
    assert found["cores"].measured == "14.0 cores allocatable and not requested on 2 ready node(s), the site requests 6.0"
    assert found["cores"].status == PASS and found["memory"].status == PASS
    big = max(plan.requests.values(), key=lambda r: r.cpu_millis)
    assert found["largest pod"] == Check("largest pod", PASS, f"{big.cpu} / {big.memory} per pod fits on a node")
    small = {n: (big.cpu_millis / 1000 - 0.1, 64.0) for n in "abcdefgh"}  # enough in all, too little on each
    found = by_name(check_capacity(small, plan))
    assert found["largest pod"].status == FAIL and found["cores"].status == PASS


def test_no_command_parses_a_kubernetes_quantity_by_hand():
    # sitespec/quantity.py is the one parser (decimal units included); a suffix literal in ops/ is a second one.
    hand = {str(m.relative_to(ROOT)): re.findall(r"""["'](?:Ki|Mi|Gi|Ti)["']""", m.read_text())
            for m in (ROOT / "ops").rglob("*.py")}
    assert {k: v for k, v in hand.items() if v} == {}


# --- Docker: the facts, read from the site's containers --------------------------------------------

def container(name, image_id, ref=None, status="running", env=(), started=None, health=None):
    started = started or (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    attrs = {"State": {"StartedAt": started, "Health": {"Status": health} if health else None},
             "Config": {"Env": list(env)}}
    return NS(name=name, status=status, image=NS(id=image_id), labels={"o3.image": ref} if ref else {}, attrs=attrs)


class Host:
    """The parts of DeployedSite that verify reads, as a healthy site without a dump answers them."""

    def __init__(self, cfg):
        self.images = {cfg.images.db: "sha256:db", PACS: "sha256:pacs", VIEW: "sha256:view"}
        self.containers = {
            "db": container("db", "sha256:db", cfg.images.db, health="healthy"),
            "pacs": container("pacs", "sha256:pacs", PACS, env=["START_PERIODIC_SERVICES=false"]),
            "pacs-singleton": container("pacs-singleton", "sha256:pacs", PACS, env=["START_PERIODIC_SERVICES=true"]),
            "view": container("view", "sha256:view", VIEW),
            "o3-maintenance": container("o3-maintenance", "sha256:db", cfg.images.db),
        }
        self.maintenance = {("status",): "{}", ("newest", "nightly"): ""}

        def image(ref):
            import docker

            if ref not in self.images:
                raise docker.errors.ImageNotFound(ref)
            return NS(id=self.images[ref])

        def listed(filters, ignore_removed):
            assert filters == {"label": f"o3.site={cfg.site.name}"}
            return [c for c in self.containers.values() if c.status == "running"]

        self.client = NS(images=NS(get=image), containers=NS(list=listed))

    def container(self, name):
        return self.containers.get(name)

    def exec(self, c, cmd):
        assert c.name == "db" and cmd[:2] == ["sh", "-c"] and "SHOW DATABASES" in cmd[2]
        return Exec(0, "information_schema\npublic_pacs\npublic_view", "")

    def run_maintenance(self, *args):
        return Exec(0, self.maintenance[args], "")


def on_host(host=None) -> Docker:
    p = Docker(docker_cfg())
    p._site = host or Host(p.cfg)
    p.connect = lambda: None
    p.answers = lambda: [Answer(n, n, lambda: Reply(True, 200), "") for n in ("view http", "pacs http")]
    p.check_pacs_service = lambda: Check("pacs 4568", PASS, "measured on a real host only")
    p.check_free_space = lambda: Check("storage", PASS, "measured on a real host only")
    return p


def test_a_healthy_docker_site_keeps_its_report():
    checks = verify.run_checks(on_host())
    assert [c.name for c in checks] == ["db", "pacs", "pacs-singleton", "view", "o3-maintenance", "singleton",
                                        "db health", "schemas", "view http", "pacs http", "pacs 4568", "storage",
                                        "backup", "versions"]
    found = by_name(checks)
    assert {c.name: c.status for c in checks if c.status != PASS} == {"backup": WARN}, checks
    assert found["pacs"].measured == f"running {PACS} (sha256:pacs)"
    assert found["singleton"].measured == "one pacs-singleton container (pacs-singleton)"
    assert found["versions"].measured == "db 8.0.34, pacs 1.2.3, view 4.5.6 as declared"


def test_docker_containers_that_are_missing_stopped_or_on_another_image():
    p = on_host()
    host = p.site
    del host.containers["o3-maintenance"]
    host.containers["view"] = container("view", "sha256:old", VIEW.replace("4.5.6", "4.5.5"), status="exited")
    host.containers["pacs"] = container("pacs", "sha256:old", PACS.replace("1.2.3", "1.2.2"))
    del host.images[VIEW]
    found = by_name(verify.run_checks(p))
    assert found["o3-maintenance"].measured == "missing"
    assert found["view"].measured == "exited, not running"
    assert found["pacs"].measured == f"runs {PACS.replace('1.2.3', '1.2.2')} (sha256:old), not the declared {PACS} (sha256:pacs)"
    assert found["backup"].measured == "o3-maintenance is not running: no nightly dumps"
    assert found["versions"].status == FAIL and "o3-maintenance none" in found["versions"].measured


def test_a_second_periodic_container_on_docker_fails_the_singleton():
    p = on_host()
    p.site.containers["pacs"].attrs["Config"]["Env"] = ["START_PERIODIC_SERVICES=true"]
    c = verify.check_singleton(p)
    assert c.status == FAIL and c.measured == "2 pacs-singleton containers run, exactly one must"


def test_docker_nightly_facts_come_from_the_dump_script():
    p = on_host()
    p.site.containers["o3-maintenance"] = container("o3-maintenance", "sha256:db", started="2026-11-27T08:00:00.123Z")
    p.site.maintenance = {("status",): '{"at": "2026-11-27T02:30:00Z", "ok": true}',
                          ("newest", "nightly"): f"o3-nightly-20261127T023000Z.sql.gz {NOW - 5 * HOUR}"}
    n = p.nightly()
    assert (n.newest, n.newest_name, n.failed) == (NOW - 5 * HOUR, "o3-nightly-20261127T023000Z.sql.gz", None)
    assert n.since == dt.datetime(2026, 11, 27, 8, tzinfo=dt.timezone.utc).timestamp()
    p.site.maintenance[("status",)] = '{"at": "2026-11-28T02:30:00Z", "ok": false, "message": "disk full"}'
    assert p.nightly().failed == ("2026-11-28T02:30:00Z", "disk full")


def test_a_stopped_db_fails_its_health_and_the_schemas():
    p = on_host()
    p.site.containers["db"].status = "exited"
    found = by_name(verify.run_checks(p))
    assert found["db health"] == Check("db health", FAIL, "db is not running")
    assert found["schemas"] == Check("schemas", FAIL, "db is not running")


def test_docker_asks_the_published_ports_or_the_front_door_with_its_certificate():
    from tlsfixtures import SITE_HOST, tls_site

    plain = Docker(docker_cfg()).answers()
    assert [(a.name, a.target) for a in plain] == [("view http", "http://localhost:8181/"),
                                                   ("pacs http", "http://localhost:8080/")]
    cfg, secure = tls_site()
    front = Docker(validate(cfg, secure)).answers()
    assert [a.name for a in front] == ["view https", "pacs https"]
    assert all(a.target.startswith(f"https://{SITE_HOST}:") for a in front)
    with_tls = Docker(validate(cfg, secure))
    assert [name for name, _ in with_tls.after_backup()] == ["certificate", "versions"]
    assert with_tls.after_backup()[0][1]().status == PASS
    assert "o3-proxy" in with_tls.declared()


def test_a_command_to_a_pod_whose_kubelet_hangs_gives_up_with_the_pod_named(monkeypatch):
    # The client opens the exec websocket without a timeout: a hung kubelet held ops.verify for good.
    import threading

    import kubernetes.stream

    never = threading.Event()
    monkeypatch.setattr(kubernetes.stream, "stream", lambda *a, **k: never.wait())
    site = DeployedKubeSite.__new__(DeployedKubeSite)
    site.core, site.namespace = NS(connect_get_namespaced_pod_exec=None), "big-site"
    with pytest.raises(OpsError, match="pod db-0 in namespace big-site did not answer a command within 0 s"):
        site.exec("db-0", ["true"], timeout=0.3)


def test_the_kubernetes_recovery_job_is_the_offsite_pod_with_writable_data_and_restore_rights():
    """ops.recover's Job: the site's own o3-offsite pod (image, Secret, labels for its
    NetworkPolicy), restic alone, the data folders writable, and the capabilities to give each
    restored file back its owner and mode (all within Pod Security baseline)."""
    from kubernetes import client

    from ops.recover import restore_job
    from sitespec.offsite import STORAGE_PATHS

    mounts = [client.V1VolumeMount(name="o3-data", mount_path=p, sub_path=p, read_only=True) for p in STORAGE_PATHS.values()]
    caps = client.V1Capabilities(drop=["ALL"], add=["DAC_OVERRIDE"])
    spec = client.V1JobSpec(template=client.V1PodTemplateSpec(
        metadata=client.V1ObjectMeta(labels={"app.kubernetes.io/name": "offsite"}),
        spec=client.V1PodSpec(containers=[
            client.V1Container(name="dump", image="db", command=["sh", "dump"]),
            client.V1Container(name="restic", image="restic", command=["sh", "job"], volume_mounts=mounts,
                               security_context=client.V1SecurityContext(capabilities=caps))])))
    snap = lambda i: NS(id=i * 8, short_id=i)  # noqa: E731
    restore_job(snap("a1b2c3d4"), snap("e5f6a7b8"), "o3-manual-recovered-e5f6a7b8.sql.gz")(spec)
    (restic,) = spec.template.spec.containers
    assert restic.name == "restic" and restic.command[-4:] == ["restore", "a1b2c3d4" * 8, "e5f6a7b8" * 8,
                                                               "o3-manual-recovered-e5f6a7b8.sql.gz"]
    assert not any(m.read_only for m in restic.volume_mounts)
    assert restic.security_context.capabilities.add == ["CHOWN", "DAC_OVERRIDE", "FOWNER"]
    assert restic.security_context.capabilities.drop == ["ALL"]
    assert spec.template.metadata.labels == {"app.kubernetes.io/name": "offsite"}


def test_a_kubernetes_sites_last_offsite_run_is_its_cronjobs_last_finished_job():
    cfg = validate({"o3:platform": "kubernetes", "o3:images": copy.deepcopy(BASE["o3:images"]),
                    "o3:site": {"name": "big-site", "timezone": "Europe/Rome", "concurrentUsers": 10, "examsPerDay": 100},
                    "o3:kubernetes": {"storageClass": "nas-rwx", "storageGb": 500},
                    "o3:offsite": {"repository": "rest:https://10.0.0.9:8000/big-site", "httpUser": "big-site"},
                    "o3:offsitePassword": "v1:encrypted", "o3:offsiteHttpPassword": "v1:encrypted"},
                   {"o3:offsitePassword", "o3:offsiteHttpPassword"})
    p = Kubernetes(cfg, ClusterAccess(None, None))
    p.connect = lambda: None
    p._site = Cluster()

    def job(name, hour, succeeded=None, failed=None, owner="o3-offsite"):
        return NS(metadata=NS(name=name, creation_timestamp=dt.datetime(2026, 12, 7, hour, tzinfo=dt.timezone.utc),
                              owner_references=[NS(kind="CronJob", name=owner)]),
                  status=NS(succeeded=succeeded, failed=failed))

    def with_jobs(*jobs):
        p._site.batch = NS(list_namespaced_job=lambda ns: NS(items=list(jobs)))
        return p.offsite_status()

    assert with_jobs() == {}
    assert with_jobs(job("o3-offsite-1", 1, succeeded=1), job("o3-maintenance-2", 2, failed=1, owner="o3-maintenance")) \
        == {"ok": True, "at": "2026-12-07T01:00:00Z"}
    failed = with_jobs(job("o3-offsite-1", 1, succeeded=1), job("o3-offsite-2", 2, failed=1), job("o3-offsite-3", 3))
    assert failed["ok"] is False and "o3-offsite-2 failed" in failed["message"] and "logs job/o3-offsite-2" in failed["message"]
    assert Kubernetes(kube_cfg(), ClusterAccess(None, None)).offsite_status() is None  # no o3:offsite
