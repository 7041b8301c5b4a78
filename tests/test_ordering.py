"""The guide's order: folders -> db healthy -> schemas -> apps."""

import pytest

from engine import evaluate


@pytest.fixture(scope="module")
def site():
    from site_fixtures import BASE

    return evaluate(BASE)


def deps(site, r):
    return set(r.dependencies)


def schema_cmd(site):
    return site.command("-create")


@pytest.mark.parametrize("name", ["pacs", "pacs-singleton", "view"])
def test_apps_start_after_the_schemas(site, name):
    assert schema_cmd(site).urn in deps(site, site.container(name))


def test_schemas_are_created_after_the_db_is_healthy(site):
    db = site.container("db")
    cmd = schema_cmd(site)
    assert db.urn in deps(site, cmd)
    # Create of a wait=True container returns only when healthy: compose's service_healthy.
    assert db.plain("wait") is True
    assert cmd.plain("triggers") == [db.id], "a new db container must re-run the schema step"


def test_db_starts_after_its_folders_exist(site):
    mkdir = site.command("-mkdir")
    assert mkdir.urn in deps(site, site.container("db"))


def test_schema_step_targets_the_same_docker_host_as_the_provider(base_config):
    ev = evaluate(dict(base_config, **{"docker:host": "ssh://o3admin@pacs01.example"}))
    assert ev.one("pulumi:providers:docker").plain("host") == "ssh://o3admin@pacs01.example"
    for cmd in ev.of_type("command:local:Command"):
        assert cmd.plain("environment")["DOCKER_HOST"] == "ssh://o3admin@pacs01.example", cmd.name
    assert ev.outputs["pacsUrl"] == "http://pacs01.example:8080/"
