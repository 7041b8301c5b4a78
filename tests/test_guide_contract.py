"""What the applications see must be exactly what the vendor guide's compose file gives them.

Expected values are written out here from `vendor-install-guide.txt`, independently of
sitespec/guide.py and sitespec/containers.py, so a drift in the program is caught: the description
(sitespec/containers.py) must say what the guide says, and the Docker site must run exactly the
description (tests/test_kube_site.py holds the Kubernetes site to the same description).
"""

import copy

import pytest

from engine import evaluate
from sitespec.config import ConfigError, parse
from sitespec.containers import CONTAINERS
from sitespec.guide import connection_strings

CONTAINER = "docker:index/container:Container"
PW = "Site-Secret_Pw.2026"

GUIDE_ENV = {
    "pacs": {
        "LOG_TO": "FILE",
        "TZ": "Europe/Rome",
        "DPACS_CONNECTION_STRING": "driverClassName=com.mysql.cj.jdbc.Driver;jdbcUrl=jdbc:mysql://db:3306/;schema=public_pacs;username=root;password=" + PW,
    },
    "pacs-singleton": {
        "LOG_TO": "FILE",
        "TZ": "Europe/Rome",
        "DPACS_CONNECTION_STRING": "driverClassName=com.mysql.cj.jdbc.Driver;jdbcUrl=jdbc:mysql://db:3306/;schema=public_pacs;username=root;password=" + PW,
        "START_PERIODIC_SERVICES": "true",
    },
    "view": {
        "TZ": "Europe/Rome",
        "LOG_TO": "FILE",
        "NGV_CONNECTION_STRING": "driverClassName=com.mysql.cj.jdbc.Driver;jdbcUrl=jdbc:mysql://db:3306/public_view;username=root;password=" + PW,
        "ULTIMATE_CONNECTION_STRING": "driverClassName=com.mysql.cj.jdbc.Driver;jdbcUrl=jdbc:mysql://db:3306;schema=public_pacs;username=root;password=" + PW,
    },
}

# Not the guide's .env (the password is a file here), but what db gets besides the site's extraEnv.
GUIDE_ENV["db"] = {"TZ": "Europe/Rome", "MYSQL_ROOT_PASSWORD_FILE": "/etc/o3-db-root-password"}
# A variable a site adds (o3:extraEnv) per container: each must reach its own container only.
EXTRA_ENV = {"db": {"O3_TEST_DB": "1"}, "pacs": {"JAVA_OPTS": "-Xmx8g"}, "pacsSingleton": {"O3_TEST_S": "s"},
             "view": {"JAVA_OPTS": "-Xmx4g", "O3_TEST_V": "v"}}


def described_env(name: str, timezone: str = "Europe/Rome", extra: bool = False) -> dict[str, str]:
    """What sitespec/containers.py says container `name` gets: its literal variables (with the
    site's extraEnv when `extra`) and its secret ones with the values of PW."""
    c = CONTAINERS[name]
    secrets = connection_strings(PW)
    return {**c.literal_env(timezone, EXTRA_ENV[c.extra_env_key] if extra else {}),
            **{var: secrets[var] for var in c.secret_env}}


GUIDE_MOUNTS = {
    "db": {("/srv/o3/compose/db", "/var/lib/mysql")},
    "pacs": {
        ("/srv/o3/compose/storage", "/opt/storagePacs"),
        ("/srv/o3/compose/pacs/log", "/opt/ipm/log"),
        ("/srv/o3/compose/pacs/shared-persist", "/opt/ipm/shared-persist"),
    },
    "pacs-singleton": {
        ("/srv/o3/compose/storage", "/opt/storagePacs"),
        ("/srv/o3/compose/pacs/log", "/opt/ipm/log"),
    },
    "view": {
        ("/srv/o3/compose/storage", "/opt/storagePacs"),
        ("/srv/o3/compose/view/shared-persist", "/opt/ipv/shared-persist"),
        ("/srv/o3/compose/view/log", "/opt/ipv/log"),
    },
}

GUIDE_PORTS = {"pacs": {(8080, 8080), (4568, 4568)}, "pacs-singleton": set(), "view": {(8181, 8181)}}


@pytest.fixture(scope="module")
def site():
    from site_fixtures import BASE

    return evaluate(dict(BASE, **{"o3:dbPassword": PW}), {"o3:dbPassword"})


def env_of(c):
    return dict(e.split("=", 1) for e in c.plain("envs"))


def test_the_guides_four_containers_and_only_our_maintenance_besides(site):
    # o3-maintenance (nightly dumps, log pruning) is ours, named apart; o3-proxy joins with o3:tls.
    assert sorted(c.plain("name") for c in site.of_type(CONTAINER)) == ["db", "o3-maintenance", "pacs", "pacs-singleton", "view"]


@pytest.fixture(scope="module")
def site_with_extra_env():
    from site_fixtures import BASE

    return evaluate(dict(BASE, **{"o3:dbPassword": PW, "o3:extraEnv": EXTRA_ENV}), {"o3:dbPassword"})


def test_the_description_is_the_guides():
    assert sorted(CONTAINERS) == sorted(GUIDE_ENV)
    assert {name: described_env(name) for name in CONTAINERS} == GUIDE_ENV


@pytest.mark.parametrize("name", ["db", "pacs", "pacs-singleton", "view"])
def test_each_container_runs_exactly_the_described_variables(site, site_with_extra_env, name):
    assert env_of(site.container(name)) == described_env(name) == GUIDE_ENV[name]
    assert env_of(site_with_extra_env.container(name)) == described_env(name, extra=True)


@pytest.mark.parametrize("name", ["pacs", "pacs-singleton", "view"])
def test_apps_stop_grace_is_the_described(site, name):
    assert site.container(name).plain("destroyGraceSeconds") == CONTAINERS[name].stop_grace_seconds == 30


@pytest.mark.parametrize("name, var", sorted((c.extra_env_key, v) for c in CONTAINERS.values() for v in c.managed_env))
def test_a_site_may_not_set_what_the_description_sets_or_refuses(name, var):
    from site_fixtures import BASE

    raw = copy.deepcopy({k.removeprefix("o3:"): v for k, v in BASE.items()})
    raw["extraEnv"] = {name: {var: "x"}}
    with pytest.raises(ConfigError) as err:
        parse(raw)
    assert f"'{var}' is set by the program" in str(err.value) and f"extraEnv.{name}" in str(err.value)


def test_only_the_singleton_runs_periodic_services(site):
    flags = {c.plain("name"): env_of(c).get("START_PERIODIC_SERVICES") for c in site.of_type(CONTAINER)}
    assert flags == {"db": None, "pacs": None, "pacs-singleton": "true", "view": None, "o3-maintenance": None}


@pytest.mark.parametrize("name", ["db", "pacs", "pacs-singleton", "view"])
def test_bind_mounts_are_the_guides(site, name):
    vols = site.container(name).plain("volumes")
    assert {(v["hostPath"], v["containerPath"]) for v in vols} == GUIDE_MOUNTS[name]
    assert not any(v.get("readOnly") for v in vols)


@pytest.mark.parametrize("name", ["pacs", "pacs-singleton", "view"])
def test_published_ports_are_the_guides(site, name):
    ports = site.container(name).plain("ports") or []
    assert {(int(p["internal"]), int(p["external"])) for p in ports} == GUIDE_PORTS[name]


@pytest.mark.parametrize("name", ["db", "pacs", "pacs-singleton", "view"])
def test_restart_always_and_on_o3net(site, name):
    c = site.container(name)
    assert c.plain("restart") == "always"
    assert [n["name"] for n in c.plain("networksAdvanced")] == ["o3net"]


def test_pacs_and_singleton_share_one_image_view_has_its_own(site):
    images = {i.plain("name"): i for i in site.of_type("docker:index/remoteImage:RemoteImage")}
    assert set(images) == {
        "mysql:8.0.34",
        "europe-west1-docker.pkg.dev/o3-cloud-internal/partner/pacs-cloud:1.2.3",
        "europe-west1-docker.pkg.dev/o3-cloud-internal/partner/view:4.5.6",
    }
    ids = {n: site.container(n).plain("image") for n in ("pacs", "pacs-singleton", "view", "db")}
    assert ids["pacs"] == ids["pacs-singleton"] != ids["view"] != ids["db"]
    assert ids["pacs"].startswith("sha256:"), "containers must use the pulled image's id, not a tag"


def test_mysqld_runs_with_the_guides_varmysql(site):
    assert site.container("db").plain("command") == [
        "mysqld",
        "--sql_mode=STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION,ALLOW_INVALID_DATES",
        "--character_set_server=utf8",
        "--collation_server=utf8_general_ci",
    ]


def test_mysql_ulimits_and_healthcheck_timing(site):
    db = site.container("db")
    limits = {u["name"]: (int(u["soft"]), int(u["hard"])) for u in db.plain("ulimits")}
    assert limits == {"nproc": (65535, 65535), "nofile": (26677, 46677)}
    hc = db.plain("healthcheck")
    assert (hc["interval"], hc["timeout"], int(hc["retries"])) == ("2s", "10s", 5)
    assert env_of(db)["TZ"] == "Europe/Rome"


def test_network_is_the_guides_bridge_and_subnet(site):
    net = site.one("docker:index/network:Network")
    assert net.plain("name") == "o3net"
    assert net.plain("driver") == "bridge"
    assert [c["subnet"] for c in net.plain("ipamConfigs")] == ["172.16.1.0/24"]


def test_schema_step_creates_both_schemas_in_db(site):
    cmd = site.command("-create")
    env = cmd.plain("environment")
    assert env["O3_SCHEMAS"].split() == ["public_pacs", "public_view"]
    assert env["O3_DB_CONTAINER"] == "db"
    assert "CREATE SCHEMA IF NOT EXISTS" in cmd.plain("create")


def test_mysql_port_is_not_published_by_default(site):
    assert not site.container("db").plain("ports")


@pytest.mark.parametrize(
    "publish, ip",
    [("loopback", "127.0.0.1"), ("10.1.2.3", "10.1.2.3"), ("0.0.0.0", "0.0.0.0")],
)
def test_mysql_port_publishing_is_configurable(base_config, publish, ip):
    ev = evaluate(dict(base_config, **{"o3:database": {"publish": publish}}))
    assert ev.container("db").plain("ports") == [{"internal": 3306.0, "external": 3306.0, "ip": ip}]


def test_extra_env_reaches_only_its_container(base_config):
    ev = evaluate(dict(base_config, **{"o3:extraEnv": {"view": {"JAVA_OPTS": "-Xmx8g"}}}))
    assert env_of(ev.container("view"))["JAVA_OPTS"] == "-Xmx8g"
    assert all("JAVA_OPTS" not in env_of(ev.container(n)) for n in ("db", "pacs", "pacs-singleton"))
