"""Hospital-grade operation on the mock engine: the HTTPS front door's config and container, the
maintenance container (nightly dumps, log pruning) and log limits on every container."""

from __future__ import annotations

import base64
import copy

import pulumi
import pytest
from pulumi.runtime import rpc

from engine import changed, evaluate, last_run, unwrap
from site_fixtures import BASE, PASSWORD
from sitespec.guide import DB_PASSWORD_FILE
from tlsfixtures import SITE_CA, SITE_HOST, tls_site

CONTAINER = "docker:index/container:Container"


def refused(cfg, secrets=()) -> str:
    with pytest.raises(pulumi.RunError) as e:
        evaluate(cfg, secrets)
    assert last_run().resources == [], "nothing may be registered when the config is refused"
    return str(e.value)


# --- config ------------------------------------------------------------------------------------

def test_a_matching_valid_certificate_is_accepted_and_warns_nothing():
    ev = evaluate(*tls_site())
    assert not [w for w in ev.warnings() if "certificate" in w]


@pytest.mark.parametrize("case, words", [
    ("no-cert", ["o3:tls.certificate: missing"]),
    ("no-key", ["o3:tlsKey: missing"]),
    ("plain-key", ["o3:tlsKey", "plain text", "--secret"]),
    ("other-key", ["o3:tlsKey: does not belong to o3:tls.certificate"]),
    ("expired", ["o3:tls.certificate: expired on"]),
    ("not-yet", ["o3:tls.certificate: not valid before"]),
    ("wrong-name", ["is not valid for 'pacs.test-site.example'", "other.example"]),
    ("garbage-cert", ["o3:tls.certificate: is not a PEM certificate"]),
    ("garbage-key", ["o3:tlsKey: is not an unencrypted PEM private key"]),
    ("port-clash", ["o3:tls.viewPort/pacsPort", "different host ports"]),
])
def test_a_bad_certificate_or_key_is_refused_before_anything_exists(case, words):
    good = SITE_CA.issue(SITE_HOST)
    cfg, secrets = tls_site(good)
    if case == "no-cert":
        del cfg["o3:tls"]["certificate"]
    elif case == "no-key":  # not set at all, so not among the stack's secret keys either
        del cfg["o3:tlsKey"]
        secrets = set()
    elif case == "plain-key":
        secrets = set()
    elif case == "other-key":
        cfg["o3:tlsKey"] = SITE_CA.issue(SITE_HOST).key_pem
    elif case == "expired":
        cfg, secrets = tls_site(SITE_CA.issue(SITE_HOST, days=-1, start_days_ago=30))
    elif case == "not-yet":
        cfg, secrets = tls_site(SITE_CA.issue(SITE_HOST, days=30, start_days_ago=-2))
    elif case == "wrong-name":
        cfg, secrets = tls_site(SITE_CA.issue("other.example"))
    elif case == "garbage-cert":
        cfg["o3:tls"]["certificate"] = "hello"
    elif case == "garbage-key":
        cfg["o3:tlsKey"] = "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n"
    elif case == "port-clash":
        cfg["o3:tls"]["viewPort"] = 8080
    message = refused(cfg, secrets)
    for w in words:
        assert w in message
    assert good.key_pem.split("\n")[1] not in message, "the key must never be echoed"


def test_an_expiry_within_30_days_only_warns():
    ev = evaluate(*tls_site(SITE_CA.issue(SITE_HOST, days=10)))
    assert any("o3:tls.certificate: expires on" in w and "renew" in w for w in ev.warnings())
    assert any(c.plain("name") == "o3-proxy" for c in ev.of_type(CONTAINER))


@pytest.mark.parametrize("names, host", [(["*.test-site.example"], SITE_HOST), (["10.1.2.3"], "10.1.2.3")])
def test_wildcard_and_ip_names_cover_the_public_host(names, host):
    cfg, secrets = tls_site(SITE_CA.issue(*names))
    cfg["o3:site"]["publicHost"] = host
    ev = evaluate(cfg, secrets)  # "wrong-name" above is the same site with a name that does not cover it
    assert not [w for w in ev.warnings() if "o3:tls" in w]
    assert unwrap(ev.outputs["viewUrl"]).startswith(f"https://{host}") and ev.container("o3-proxy")


@pytest.mark.parametrize("schedule", ["2:30", "24:00", "02:60", "noon"])
def test_a_bad_backup_schedule_is_refused(schedule):
    cfg = copy.deepcopy(BASE)
    cfg["o3:backup"] = {"schedule": schedule}
    assert "o3:backup.schedule" in refused(cfg) and "HH:MM" in refused(cfg)


@pytest.mark.parametrize("key, value", [("o3:backup", {"retainDays": 0}), ("o3:logs", {"maxSizeMb": 0}),
                                        ("o3:logs", {"maxFiles": -1}), ("o3:logs", {"retainDays": 0})])
def test_bad_retention_and_log_limits_are_refused(key, value):
    cfg = copy.deepcopy(BASE)
    cfg[key] = value
    assert f"{key}.{next(iter(value))}" in refused(cfg)


# --- the front door -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tls_ev():
    return evaluate(*tls_site())


def test_the_proxy_terminates_tls_on_the_site_ports(tls_ev):
    proxy = tls_ev.container("o3-proxy")
    assert {(int(p["internal"]), int(p["external"]), p["ip"]) for p in proxy.plain("ports")} == {
        (443, 443, "0.0.0.0"), (8443, 8443, "0.0.0.0")}
    assert [n["name"] for n in proxy.plain("networksAdvanced")] == ["o3net"]
    uploads = {u["file"]: u for u in proxy.plain("uploads")}
    conf = uploads["/etc/nginx/conf.d/default.conf"]["content"]
    assert "proxy_pass $o3_upstream" in conf and "http://view:8181" in conf and "http://pacs:8080" in conf
    assert "TLSv1.2 TLSv1.3" in conf and "Strict-Transport-Security" in conf and "TLSv1 " not in conf
    assert uploads["/etc/nginx/tls/site.key"]["permissions"] == "0400"
    assert proxy.plain("image").startswith("sha256:")
    assert tls_ev.one("docker:index/remoteImage:RemoteImage", name="nginx:1.28.0")


def test_the_key_reaches_the_proxy_only_as_a_secret_upload(tls_ev):
    proxy = tls_ev.container("o3-proxy")
    assert rpc.is_rpc_secret(proxy.inputs["uploads"]), "the uploads carry the key: they must be secret"
    assert "uploads" in proxy.additional_secret_outputs
    key_line = tls_site()[0]["o3:tlsKey"].split("\n")[1]
    for c in tls_ev.of_type(CONTAINER):
        assert key_line not in str(unwrap(c.inputs.get("envs"))) + str(c.plain("command")) + str(c.plain("entrypoints"))


def test_behind_the_proxy_plain_http_is_on_loopback_and_4568_stays(tls_ev):
    ports = {(int(p["internal"]), p["ip"]) for n in ("pacs", "view") for p in tls_ev.container(n).plain("ports")}
    assert ports == {(8080, "127.0.0.1"), (4568, "0.0.0.0"), (8181, "127.0.0.1")}


def test_outputs_are_https_urls(tls_ev):
    assert tls_ev.outputs["viewUrl"] == f"https://{SITE_HOST}/"
    assert tls_ev.outputs["pacsUrl"] == f"https://{SITE_HOST}:8443/"


def test_a_renewal_changes_only_the_proxy(tls_ev):
    renewed = evaluate(*tls_site(SITE_CA.issue(SITE_HOST, days=700)))
    assert set(changed(tls_ev, renewed)) == {"test-site-proxy-container"}


def test_without_tls_there_is_no_proxy_and_the_apps_publish_as_configured():
    ev = evaluate(copy.deepcopy(BASE))
    assert "o3-proxy" not in {c.plain("name") for c in ev.of_type(CONTAINER)}
    assert {p["ip"] for p in ev.container("view").plain("ports")} == {"0.0.0.0"}
    assert ev.outputs["viewUrl"] == "http://localhost:8181/"


# --- maintenance and logs ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def ev():
    cfg = copy.deepcopy(BASE)
    cfg["o3:dbPassword"] = PASSWORD
    cfg["o3:backup"] = {"schedule": "03:15", "retainDays": 9}
    cfg["o3:logs"] = {"maxSizeMb": 20, "maxFiles": 3, "retainDays": 45}
    return evaluate(cfg, {"o3:dbPassword"})


def test_every_container_has_docker_log_limits(ev):
    names = set()
    for c in ev.of_type(CONTAINER):
        assert c.plain("logDriver") == "json-file", c.name
        assert c.plain("logOpts") == {"max-size": "20m", "max-file": "3"}, c.name
        names.add(c.plain("name"))
    assert names == {"db", "pacs", "pacs-singleton", "view", "o3-maintenance"}


def test_maintenance_runs_the_schedule_in_site_time_with_the_retention(ev):
    m = ev.container("o3-maintenance")
    env = dict(e.split("=", 1) for e in m.plain("envs"))
    assert (env["O3_SCHEDULE"], env["O3_RETAIN_DAYS"], env["O3_LOG_RETAIN_DAYS"]) == ("03:15", "9", "45")
    assert env["O3_SCHEMAS"] == "public_pacs public_view" and env["O3_DB_HOST"] == "db"
    assert env["O3_DUMP_OPTIONS"] == "--single-transaction --routines --events --triggers"
    uploads = {u["file"]: u for u in m.plain("uploads")}
    tz = base64.b64decode(uploads["/etc/localtime"]["contentBase64"])
    assert tz.startswith(b"TZif") and b"CET" in tz  # Europe/Rome
    assert m.plain("image") == ev.container("db").plain("image")  # mysqldump comes with the db image


def test_maintenance_mounts_only_the_backups_and_the_two_log_folders(ev):
    mounts = {(v["hostPath"], v["containerPath"]) for v in ev.container("o3-maintenance").plain("volumes")}
    assert mounts == {("/srv/o3/backups", "/backups"), ("/srv/o3/compose/pacs/log", "/logs/pacs"),
                      ("/srv/o3/compose/view/log", "/logs/view")}


def test_maintenance_gets_the_password_as_a_secret_file_not_in_its_environment(ev):
    m = ev.container("o3-maintenance")
    assert rpc.is_rpc_secret(m.inputs["uploads"]) and "uploads" in m.additional_secret_outputs
    assert PASSWORD not in " ".join(m.plain("envs")) + str(m.plain("entrypoints")) + str(m.plain("command"))
    assert {u["file"]: u["permissions"] for u in m.plain("uploads")}[DB_PASSWORD_FILE] == "0400"


def test_the_pre_upgrade_dump_uses_the_same_dump_options(ev):
    env = ev.command("-dump").plain("environment")
    assert env["O3_DUMP_OPTIONS"] == "--single-transaction --routines --events --triggers"
    assert env["O3_SITE"] == "test-site"


def test_ops_commands_read_a_tls_stack_whose_key_they_cannot_decrypt():
    # Seen with the real CLI: ops.verify on an HTTPS site said "o3:tlsKey: missing", since the
    # operator commands read the stack file without decrypting its secure values.
    from sitespec.stackfile import validate

    cfg, _ = tls_site()
    del cfg["o3:tlsKey"]
    loaded = validate({**cfg, "o3:tlsKey": {"secure": "v1:abc"}}, {"o3:tlsKey"})
    assert loaded.tls.enabled and loaded.tls_key is None
    with pytest.raises(Exception, match="o3:tlsKey: missing"):
        validate(cfg, set())
