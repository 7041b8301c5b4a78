"""Each rule of the policy pack: a case with a violation and one without, through the analyzer;
and the pack itself: its rules found in policy/rules/, its table generated from them."""

import re
import runpy
import sys
from pathlib import Path

import pulumi_policy
import pytest
from pulumi.runtime import rpc

from ops import schema
from policy import rules
from policy_harness import analyze, by_policy, resource

C = "docker:index/container:Container"
IMG = "docker:index/remoteImage:RemoteImage"
CMD = "command:local:Command"


def facts(**over):
    keepers = {
        "kind": "o3-site-facts", "site": "s1", "concurrentUsers": "35", "pathology": "false", "examsPerDay": "100",
        "hostCpuCores": "20", "hostMemoryGb": "64", "hostStorageGb": "500", "hostNetworkMbps": "1000",
        "storagePath": "/srv/o3",
    }
    keepers.update(over)
    return resource("random:index/randomId:RandomId", "s1-site-facts", {"byteLength": 4.0, "keepers": keepers})


def container(name, envs=(), secret_outputs=("envs",), **props):
    envs = envs if isinstance(envs, str) else list(envs)  # a str is the unknown sentinel
    return resource(C, f"s1-{name}", {"name": name, "envs": envs, **props}, secret_outputs=secret_outputs)


def singleton():
    return container("pacs-singleton", ["START_PERIODIC_SERVICES=true"])


def violations(resources, policy, config=None):
    return by_policy(analyze(resources, config)).get(policy, [])


# --- sizing -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    "policy, over, level, words",
    [
        ("o3-sizing-cores", {"hostCpuCores": "17"}, "mandatory", ["site s1", "17 cores declared, 18 cores required", "up to 50 users"]),
        ("o3-sizing-cores", {"pathology": "true", "hostCpuCores": "40"}, "mandatory", ["53 cores required", "digital pathology", "= 52.5, rounded up"]),
        ("o3-sizing-memory", {"hostMemoryGb": "32"}, "mandatory", ["32 GB RAM declared, 36 GB RAM required"]),
        ("o3-sizing-storage", {"hostStorageGb": "40"}, "mandatory", ["40 GB storage declared, 50 GB storage required"]),
        ("o3-sizing-network", {"hostNetworkMbps": "50"}, "advisory", ["50 Mbit/s declared, 100 Mbit/s required"]),
        ("o3-exam-load", {"examsPerDay": "150"}, "advisory", ["150 exams/day", "fewer than 150"]),
    ],
)
def test_sizing_rule_has_violation(policy, over, level, words):
    found = violations([facts(**over), singleton()], policy)
    assert len(found) == 1 and found[0].level == level
    for w in words:
        assert w in found[0].message, found[0].message


@pytest.mark.parametrize("policy", ["o3-sizing-cores", "o3-sizing-memory", "o3-sizing-storage", "o3-sizing-network", "o3-exam-load"])
def test_sizing_rule_no_violation_on_a_well_sized_host(policy):
    assert violations([facts(hostCpuCores="18", hostMemoryGb="36", hostStorageGb="50", hostNetworkMbps="100", examsPerDay="149"), singleton()], policy) == []


def test_sizing_rules_report_a_missing_facts_record():
    assert "no site-facts record" in violations([singleton()], "o3-sizing-cores")[0].message


def test_thresholds_and_levels_are_configurable():
    res = [facts(hostStorageGb="400", hostNetworkMbps="500", examsPerDay="100", pathology="true", hostCpuCores="60"), singleton()]
    cfg = {
        "o3-sizing-storage": {"minStorageGb": 1000},
        "o3-sizing-network": {"enforcementLevel": "mandatory", "minNetworkMbps": 1000},
        "o3-exam-load": {"examsPerDayLimit": 80},
        "o3-sizing-cores": {"pathologyCoresPerUser": 2},
    }
    got = by_policy(analyze(res, cfg))
    assert "1000 GB storage required" in got["o3-sizing-storage"][0].message
    assert got["o3-sizing-network"][0].level == "mandatory"
    assert "fewer than 80" in got["o3-exam-load"][0].message
    assert "70 cores required" in got["o3-sizing-cores"][0].message
    assert violations(res, "o3-sizing-storage", {"o3-sizing-storage": "disabled"}) == []


# --- images -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "ref, bad",
    [
        ("registry.example/o3/pacs-cloud:2.8.1", False),
        ("mysql@sha256:" + "a" * 64, False),
        ("registry.example/o3/pacs-cloud", True),
        ("registry.example/o3/pacs-cloud:latest", True),
        ("registry.example/o3/pacs-cloud:{X.Y.Z}", True),
    ],
)
def test_pinned_images(ref, bad):
    found = violations([resource(IMG, "s1-pacs-image", {"name": ref}), singleton()], "o3-pinned-images")
    assert bool(found) is bad
    if bad:
        assert found[0].level == "mandatory" and "o3:images" in found[0].message


@pytest.mark.parametrize(
    "ref, mandatory, advisory",
    [
        ("mysql:8.0.34", False, False),
        ("mysql:5.7.44", False, True),
        ("mariadb:10.11", True, False),
        ("mysql:8.4.2", True, False),
        ("docker.io/library/mysql:8.0", False, False),
    ],
)
def test_database_is_mysql_8(ref, mandatory, advisory):
    res = [resource(IMG, "s1-db-image", {"name": ref}), singleton()]
    assert bool(violations(res, "o3-database-mysql")) is mandatory
    adv = violations(res, "o3-database-mysql-8-recommended")
    assert bool(adv) is advisory
    if advisory:
        assert adv[0].level == "advisory" and "supported but not recommended" in adv[0].message


# --- secrets -------------------------------------------------------------------------------

PW = "Sup3r-Secret-Pw"


def test_password_in_a_command_string_is_a_violation():
    res = [singleton(), resource(CMD, "schemas", {"create": f"docker exec db mysql -uroot -p{PW} -e 'create schema x'"})]
    found = violations(res, "o3-no-plaintext-secrets")
    assert found and "create carries a password" in found[0].message


def test_password_in_the_healthcheck_is_a_violation():
    db = container("db", ["MYSQL_ROOT_PASSWORD=" + PW], healthcheck={"tests": ["CMD", "mysql", "-h", "db", "-u", "root", "-p" + PW]})
    found = violations([db, singleton()], "o3-no-plaintext-secrets")
    assert any("healthcheck.tests" in v.message for v in found)


def test_secret_env_not_kept_secret_is_a_violation():
    app = container("view", [f"NGV_CONNECTION_STRING=jdbc...;username=root;password={PW}"], secret_outputs=())
    found = violations([app, singleton()], "o3-no-plaintext-secrets")
    assert found and "envs" in found[0].message and "additional_secret_outputs" in found[0].message


def test_secrets_passed_the_programs_way_are_fine():
    db = container("db", ["MYSQL_ROOT_PASSWORD_FILE=/etc/o3-db-root-password"], secret_outputs=("uploads",),
                   uploads=[{"file": "/etc/o3-db-root-password", "content": PW}],
                   healthcheck={"tests": ["CMD", "mysqladmin", "ping", "-h", "127.0.0.1"]})
    cmd = resource(CMD, "schemas", {"create": "docker exec -e MYSQL_PWD db mysql -uroot -e ...",
                                    "environment": {"MYSQL_PWD": rpc.wrap_rpc_secret(PW)}},
                   secret_outputs=("environment",))
    app = container("view", [f"NGV_CONNECTION_STRING=x;password={PW}"])
    assert violations([db, cmd, app, singleton()], "o3-no-plaintext-secrets") == []


# --- MySQL port ---------------------------------------------------------------------------

@pytest.mark.parametrize("ip, bad", [("0.0.0.0", True), ("::", True), ("127.0.0.1", False), ("10.0.0.5", False)])
def test_mysql_port_on_all_interfaces_is_advisory(ip, bad):
    db = container("db", ports=[{"internal": 3306.0, "external": 3306.0, "ip": ip}])
    found = violations([db, singleton()], "o3-mysql-port-private")
    assert bool(found) is bad
    if bad:
        assert found[0].level == "advisory"


# --- singleton ----------------------------------------------------------------------------

def test_exactly_one_singleton():
    assert violations([singleton(), container("pacs", ["LOG_TO=FILE"])], "o3-periodic-singleton") == []
    assert "found 0" in violations([container("pacs")], "o3-periodic-singleton")[0].message
    two = violations([singleton(), container("pacs", ["START_PERIODIC_SERVICES=true"])], "o3-periodic-singleton")
    assert "container 'pacs' sets START_PERIODIC_SERVICES" in two[0].message
    off = violations([container("pacs-singleton", ["START_PERIODIC_SERVICES=false"])], "o3-periodic-singleton")
    assert "does not set START_PERIODIC_SERVICES=true" in off[0].message


# --- data ---------------------------------------------------------------------------------

def test_data_in_bind_mounts_under_the_storage_path_is_fine():
    db = container("db", volumes=[{"hostPath": "/srv/o3/compose/db", "containerPath": "/var/lib/mysql"}])
    mk = resource(CMD, "mkdir", {"create": "docker run ... -v /srv/o3:/o3-storage ... mkdir -p ..."})
    assert violations([facts(), db, mk, singleton()], "o3-data-survives-deletion") == []


@pytest.mark.parametrize(
    "extra, words",
    [
        (container("db", volumes=[{"volumeName": "dbdata", "containerPath": "/var/lib/mysql"}]), "not a host bind mount"),
        (container("pacs", volumes=[{"hostPath": "/tmp/x", "containerPath": "/opt/storagePacs"}]), "outside o3:site.storagePath"),
        (container("view", removeVolumes=True), "remove_volumes"),
        (resource("docker:index/volume:Volume", "dbdata", {"name": "dbdata"}), "not protected"),
        (resource(CMD, "cleanup", {"create": "mkdir -p /srv/o3/x", "delete": "rm -rf /srv/o3/x"}), "delete step"),
    ],
)
def test_data_that_a_deletion_could_remove_is_a_violation(extra, words):
    found = violations([facts(), extra, singleton()], "o3-data-survives-deletion")
    assert found and words in found[0].message and found[0].level == "mandatory"


def test_a_protected_volume_is_fine():
    vol = resource("docker:index/volume:Volume", "dbdata", {"name": "dbdata"}, protect=True)
    assert violations([facts(), vol, singleton()], "o3-data-survives-deletion") == []


# --- preview: values not known yet ---------------------------------------------------------

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's unknown-value sentinel


def test_rules_still_check_what_is_known_during_preview():
    # A new site at preview: image ids and the generated password are not known yet.
    db = container("db", ["MYSQL_ROOT_PASSWORD=" + PW], image=UNKNOWN, secret_outputs=(),
                   healthcheck={"tests": ["CMD", "mysql", "-p" + PW]})
    app = container("view", UNKNOWN, image=UNKNOWN)
    mk = resource(CMD, "mkdir", {"create": UNKNOWN, "environment": {"DOCKER_HOST": "unix:///x"}})
    got = by_policy(analyze([facts(), db, app, mk, singleton()]))
    assert "o3-no-plaintext-secrets" in got, "known values must still be checked"
    assert all("can't run policy" not in v.message for vs in got.values() for v in vs), got
    assert "o3-periodic-singleton" not in got


def test_a_singleton_whose_env_is_not_known_yet_is_checked_at_the_update():
    # Seen with the real engine: a new site with a generated password sends pacs-singleton's
    # whole env list as unknown at preview (it holds the connection string). Not a violation.
    got = by_policy(analyze([facts(), container("pacs-singleton", UNKNOWN)]))
    assert "o3-periodic-singleton" not in got


# --- TLS and logs -------------------------------------------------------------------------------

def port(internal, ip):
    return {"internal": float(internal), "external": float(internal), "ip": ip}


BOUNDED = {"logDriver": "json-file", "logOpts": {"max-size": "50m", "max-file": "5"}}


@pytest.mark.parametrize("view_ip, pacs_ip, with_proxy, expected", [
    ("0.0.0.0", "0.0.0.0", False, 0),  # no front door: plain HTTP is the guide's way
    ("127.0.0.1", "127.0.0.1", True, 0),
    ("0.0.0.0", "127.0.0.1", True, 1),
    ("10.0.0.5", "", True, 2),
])
def test_tls_sites_keep_plain_http_on_loopback(view_ip, pacs_ip, with_proxy, expected):
    res = [facts(), singleton(), container("view", ports=[port(8181, view_ip)]),
           container("pacs", ports=[port(8080, pacs_ip), port(4568, "0.0.0.0")])]
    if with_proxy:
        res.append(container("o3-proxy", ports=[port(443, "0.0.0.0")]))
    found = violations(res, "o3-tls-no-plain-ports")
    assert len(found) == expected
    assert all(v.level == "mandatory" and "clear text" in v.message for v in found)


@pytest.mark.parametrize("props, expected", [
    (BOUNDED, 0),
    ({"logDriver": "json-file", "logOpts": {"max-size": "50m"}}, 1),
    ({}, 1),  # the default driver is json-file
    ({"logDriver": "journald"}, 0),  # bounded by the journal, not by Docker
])
def test_every_container_log_is_bounded(props, expected):
    found = violations([facts(), singleton(), container("view", **props)], "o3-log-limits")
    assert len([v for v in found if "'view'" in v.message]) == expected


# --- the pack: its rules found, each with its remediation, the table generated ------------------

ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = ROOT / "policy" / "rules"


def test_every_public_module_of_policy_rules_is_a_discovered_rule():
    files = sorted(p.stem for p in RULES_DIR.glob("*.py") if not p.name.startswith("_"))
    assert files and list(rules.RULES) == files
    assert [p.name for p in rules.ALL] == [r.name for r in rules.RULES.values()]
    assert len({r.name for r in rules.RULES.values()}) == len(files)
    for r in rules.RULES.values():
        assert r.description.strip() and r.remediation.strip(), r.name


def fake_rules(tmp_path, monkeypatch, package: str, modules: dict[str, str]) -> Path:
    pkg = tmp_path / package
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name, text in modules.items():
        (pkg / f"{name}.py").write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    return pkg


def test_a_new_rule_file_is_found_and_helpers_are_skipped(tmp_path, monkeypatch):
    pkg = fake_rules(tmp_path, monkeypatch, "rules_ok", {
        "_helper": "X = 1\n",
        "my_rule": "from policy.rules.pinned_images import RULE\n",
    })
    assert rules.discover([str(pkg)], "rules_ok") == {"my_rule": rules.RULES["pinned_images"]}


@pytest.mark.parametrize("package, modules, words", [
    ("rules_stray", {"stray": "X = 1\n"}, "rules_stray.stray holds no rule"),
    ("rules_twice", {"a": "from policy.rules.pinned_images import RULE\n", "b": "from policy.rules.pinned_images import RULE\n"},
     "rule name 'o3-pinned-images' is taken"),
], ids=["not-a-rule", "same-name"])
def test_a_module_that_is_not_a_rule_stops_the_pack_naming_it(tmp_path, monkeypatch, package, modules, words):
    pkg = fake_rules(tmp_path, monkeypatch, package, modules)
    with pytest.raises(rules.NotARule, match=re.escape(words)):
        rules.discover([str(pkg)], package)


def test_the_pack_runs_with_the_discovered_rules(monkeypatch):
    """policy/__main__.py as the Pulumi CLI starts it; PolicyPack (which would serve and block) recorded."""
    made = {}

    def pack(**kw):
        made.update(kw)

    monkeypatch.setattr(pulumi_policy, "PolicyPack", pack)
    monkeypatch.setattr(sys, "path", list(sys.path))
    runpy.run_path(str(ROOT / "policy" / "__main__.py"), run_name="__main__")
    assert made["name"] == rules.PACK_NAME
    assert [p.name for p in made["policies"]] == [r.name for r in rules.RULES.values()]
    assert [p.enforcement_level for p in made["policies"]] == [r.enforcement for r in rules.RULES.values()]


def test_no_rule_reads_a_platform():
    """The rules read sitespec.facts only: no resource type, no adapter, no platform switch."""
    for path in RULES_DIR.glob("*.py"):
        if path.name in ("__init__.py", "_rule.py"):  # discovery, and the wrapper that calls the adapters
            continue
        text = path.read_text()
        assert not re.search(r"(kubernetes|docker|command|random):\w", text), path.name
        assert "platforms" not in text and "is_kubernetes" not in text and '"platform"' not in text, path.name


def test_the_rule_table_is_generated_from_the_rules():
    diff = schema.stale(ROOT).get("docs/policy-rules.md")
    assert diff is None, f"docs/policy-rules.md is out of date with policy/rules/; run `{schema.WRITE}`:\n{diff}"
    page = (ROOT / "docs" / "policy-rules.md").read_text()
    for r in rules.RULES.values():
        level = rules.LEVELS[r.enforcement]
        assert f"| `{r.name}` | {level} |" in page and " ".join(r.remediation.split())[1:] in page, r.name
    edited = page.replace("| `o3-log-limits` | mandatory |", "| `o3-log-limits` | advisory |")
    assert edited != page and "docs/policy-rules.md" in schema.stale(ROOT, {"docs/policy-rules.md": edited})
    assert "docs/policy-rules.md" in (ROOT / "README.md").read_text()
