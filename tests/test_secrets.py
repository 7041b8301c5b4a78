"""A secret must never appear in plain text: not in inputs, not in a command string, not in outputs."""

import json

import pytest
from pulumi.runtime import rpc

from site_fixtures import PASSWORD, REGISTRY_KEY
from engine import MOCK_PASSWORD, evaluate


def plain_strings(value, path="", inside_secret=False):
    """Yield (path, string) for every string that is NOT inside a secret wrapper."""
    if rpc.is_rpc_secret(value):
        return
    if isinstance(value, dict):
        for k, v in value.items():
            yield from plain_strings(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from plain_strings(v, f"{path}[{i}]")
    elif isinstance(value, str):
        yield path, value


def leaks(ev, secret):
    found = []
    for r in ev.resources:
        found += [f"{r.type} {r.name}{p}" for p, s in plain_strings(r.inputs) if secret in s]
    found += [f"output {p}" for p, s in plain_strings(ev.outputs) if secret in s]
    return found


@pytest.fixture(scope="module")
def with_secrets():
    from site_fixtures import BASE

    return evaluate(
        dict(BASE, **{"o3:dbPassword": PASSWORD, "o3:registryKey": REGISTRY_KEY}),
        {"o3:dbPassword", "o3:registryKey"},
    )


def test_leak_detector_sees_a_plain_string():
    # The checker itself must be able to fail.
    assert list(plain_strings({"a": ["x", {"b": "pw"}]})) == [(".a[0]", "x"), (".a[1].b", "pw")]
    assert list(plain_strings({"a": rpc.wrap_rpc_secret("pw")})) == []


@pytest.mark.parametrize("secret", [PASSWORD, REGISTRY_KEY, "sekrit"])
def test_configured_secrets_never_appear_in_plain_text(with_secrets, secret):
    assert leaks(with_secrets, secret) == []


def test_generated_password_never_appears_in_plain_text(base_config):
    ev = evaluate(base_config)
    assert leaks(ev, MOCK_PASSWORD) == []
    # ... and it is really used (the check above is not vacuous).
    view = ev.container("view")
    assert any(MOCK_PASSWORD in e for e in view.plain("envs"))


def test_no_command_string_or_healthcheck_carries_the_password(with_secrets):
    for cmd in with_secrets.of_type("command:local:Command"):
        assert PASSWORD not in json.dumps(cmd.plain("create"))
    hc = with_secrets.container("db").plain("healthcheck")
    assert PASSWORD not in json.dumps(hc)
    assert not any(t.startswith("-p") for t in hc["tests"])


def test_password_reaches_mysql_as_a_file_not_an_env_value(with_secrets):
    db = with_secrets.container("db")
    envs = db.plain("envs")
    assert not any(e.startswith("MYSQL_ROOT_PASSWORD=") for e in envs)
    assert "MYSQL_ROOT_PASSWORD_FILE=/etc/o3-db-root-password" in envs
    assert rpc.is_rpc_secret(db.inputs["uploads"])
    assert db.plain("uploads")[0]["content"] == PASSWORD


@pytest.mark.parametrize("step", ["-create", "-dump"])
def test_schema_and_backup_steps_get_the_password_by_environment_with_logging_off(with_secrets, step):
    cmd = with_secrets.command(step)
    assert cmd.plain("environment")["MYSQL_PWD"] == PASSWORD
    assert rpc.is_rpc_secret(cmd.inputs["environment"])
    assert cmd.plain("logging") == "none"
    assert "environment" in cmd.additional_secret_outputs


def test_registry_key_is_the_providers_secret_auth(with_secrets):
    prov = with_secrets.one("pulumi:providers:docker")
    auth = prov.plain("registryAuth")
    auth = json.loads(auth) if isinstance(auth, str) else auth
    assert auth[0]["address"] == "europe-west1-docker.pkg.dev"
    assert auth[0]["username"] == "_json_key"
    assert auth[0]["password"] == REGISTRY_KEY
    for image in with_secrets.of_type("docker:index/remoteImage:RemoteImage"):
        assert image.provider.startswith(prov.urn), "every pull must go through the logged-in provider"


def test_without_a_key_there_is_no_registry_login(base_config):
    prov = evaluate(base_config).one("pulumi:providers:docker")
    assert not prov.plain("registryAuth")


def test_app_envs_are_secret_because_they_hold_the_password(with_secrets):
    for name in ("pacs", "pacs-singleton", "view"):
        assert rpc.is_rpc_secret(with_secrets.container(name).inputs["envs"])
