"""Nothing `pulumi destroy`, an upgrade or a replacement does may delete the site's data."""

import pytest

from engine import evaluate

CONTAINER = "docker:index/container:Container"


@pytest.fixture(scope="module")
def site():
    from site_fixtures import BASE

    return evaluate(BASE)


def test_data_lives_only_in_host_bind_mounts_never_in_docker_volumes(site):
    for c in site.of_type(CONTAINER):
        for v in c.plain("volumes") or []:
            assert v.get("hostPath", "").startswith(("/srv/o3/compose/", "/srv/o3/backups")), (c.name, v)
            assert not v.get("volumeName"), "a named volume could be pruned or removed with the container"
        # Explicitly false: the provider's default is true, and the pack sees the provider's value.
        assert c.plain("removeVolumes") is False, "remove_volumes would drop anonymous volumes on destroy"
    assert site.of_type("docker:index/volume:Volume") == []


def test_folder_step_never_deletes_and_is_retained_on_destroy(site):
    mkdir = site.command("-mkdir")
    assert mkdir.retain_on_delete
    assert not mkdir.plain("delete"), "a delete command could remove the site's data"
    create = mkdir.plain("create")
    for folder in ("compose/db", "compose/storage", "compose/pacs/shared-persist", "compose/view/shared-persist"):
        assert f"/o3-storage/{folder}" in create
    assert "-v /srv/o3:/o3-storage" in create


def test_folder_step_is_only_redone_when_the_storage_path_moves(site):
    mkdir = site.command("-mkdir")
    assert mkdir.plain("triggers") == ["/srv/o3"]
    assert "create" in mkdir.ignore_changes, "a db image bump must not show as a change to the folder step"


def test_no_command_deletes_anything(site):
    for cmd in site.of_type("command:local:Command"):
        assert not cmd.plain("delete"), cmd.name


@pytest.mark.parametrize("name", ["db", "pacs", "pacs-singleton", "view"])
def test_named_containers_are_replaced_delete_before_replace(site, name):
    # Otherwise an upgrade fails on "name already in use" / "port is already allocated".
    assert site.container(name).delete_before_replace


def test_network_is_replaced_delete_before_replace(site):
    assert site.one("docker:index/network:Network").delete_before_replace


def test_images_are_kept_on_the_host_and_pulled_before_replacement(site):
    for image in site.of_type("docker:index/remoteImage:RemoteImage"):
        assert image.plain("keepLocally") is True
        # create-before-delete (the default) = the new image is pulled before the container goes.
        assert not image.delete_before_replace


def test_mysql_gets_time_to_shut_down_cleanly(site):
    db = site.container("db")
    assert db.plain("destroyGraceSeconds") >= 30
    assert db.plain("wait") is True and db.plain("waitTimeout") >= 120
    assert "healthcheck" in db.replace_on_changes, "the provider never updates a healthcheck in place"


def test_database_folder_is_bind_mounted_at_mysqls_datadir(site):
    vols = site.container("db").plain("volumes")
    assert vols == [{"hostPath": "/srv/o3/compose/db", "containerPath": "/var/lib/mysql", "readOnly": False}]


def test_a_generated_password_is_protected_so_destroy_cannot_lose_it():
    # MySQL keeps the password its data folder was initialised with; a destroy that dropped the
    # generated one would leave a site that cannot open its own data on the next `up`.
    from site_fixtures import BASE

    (pw,) = evaluate(BASE).of_type("random:index/randomPassword:RandomPassword")
    assert pw.protect
