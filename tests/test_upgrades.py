"""Version bumps touch only what they must: evaluated before and after on the mock engine.

The mocks give a resource a new id whenever its inputs change (as a replacement would), so a
change also shows in whatever consumes that id (e.g. the schema step's trigger on `db`).
"""

import copy

import pytest

from engine import changed, evaluate, unwrap
from site_fixtures import BASE

SITE = "test-site"
NEVER_TOUCHED = [f"{SITE}-db-password", f"{SITE}-net-network", f"{SITE}-folders-mkdir", f"{SITE}-site-facts",
                 f"{SITE}-registry-docker"]


def bump(component: str, tag: str):
    cfg = copy.deepcopy(BASE)
    ref = cfg["o3:images"].get(component, "mysql:8.0.34")
    cfg["o3:images"][component] = ref.rsplit(":", 1)[0] + ":" + tag
    return cfg


@pytest.fixture(scope="module")
def before():
    return evaluate(BASE)


EXPECTED = {
    "view": {f"{SITE}-view-image", f"{SITE}-apps-view", f"{SITE}-backup-dump"},
    "pacs": {f"{SITE}-pacs-image", f"{SITE}-apps-pacs", f"{SITE}-apps-pacs-singleton", f"{SITE}-backup-dump"},
    # The maintenance container runs on the db image (mysqldump), so it follows it.
    "db": {f"{SITE}-db-image", f"{SITE}-db-container", f"{SITE}-schemas-create", f"{SITE}-backup-dump",
           f"{SITE}-maintenance-container"},
}


@pytest.mark.parametrize("component", ["view", "pacs", "db"])
def test_a_bump_changes_exactly_its_image_its_containers_and_the_backup(before, component):
    diff = changed(before, evaluate(bump(component, "9.9.9")))
    assert set(diff) == EXPECTED[component], diff
    for name in NEVER_TOUCHED:
        assert name not in diff


@pytest.mark.parametrize("component", ["view", "pacs", "db"])
def test_the_containers_it_changes_are_replaced_for_the_new_image(before, component):
    diff = changed(before, evaluate(bump(component, "9.9.9")))
    for name, fields in diff.items():
        if name.endswith(("-container", "-view", "-pacs", "-pacs-singleton")):
            assert "image" in fields, (name, fields)  # image is replace-only: a new container
            assert fields <= {"image", "labels"}, (name, fields)


def test_a_db_bump_keeps_the_data_folder_and_the_password(before):
    after = evaluate(bump("db", "8.0.40"))
    db_before, db_after = before.container("db"), after.container("db")
    assert db_before.plain("volumes") == db_after.plain("volumes")
    assert db_before.plain("uploads") == db_after.plain("uploads")


def test_the_backup_is_taken_before_any_container_changes(before):
    dump = before.command("-dump")
    for name in ("db", "pacs", "pacs-singleton", "view"):
        assert dump.urn in before.container(name).dependencies, name
    assert dump.plain("triggers") == [unwrap(before.one("docker:index/remoteImage:RemoteImage", name=ref).inputs["name"])
                                      for ref in ("mysql:8.0.34", BASE["o3:images"]["pacs"], BASE["o3:images"]["view"])]


def test_the_backup_names_the_new_versions_and_keeps_the_configured_count():
    cfg = bump("pacs", "2.9.0")
    cfg["o3:backup"] = {"retain": 4}
    env = evaluate(cfg).command("-dump").plain("environment")
    assert env["O3_NEW_VERSIONS"] == "db=8.0.34 pacs=2.9.0 view=4.5.6"
    assert env["O3_RETAIN"] == "4"
    assert env["O3_BACKUP_DIR"] == "/srv/o3/backups"


def test_a_non_version_change_does_not_trigger_a_backup(before):
    cfg = copy.deepcopy(BASE)
    cfg["o3:backup"] = {"retain": 3}
    diff = changed(before, evaluate(cfg))
    assert set(diff) == {f"{SITE}-backup-dump"} and diff[f"{SITE}-backup-dump"] == {"environment"}
    assert "triggers" not in diff[f"{SITE}-backup-dump"], "only an image change may replace (= run) the dump"


def test_rolling_back_is_reverting_the_version(before):
    up = evaluate(bump("view", "9.9.9"))
    back = evaluate(BASE)
    assert changed(before, back) == {}
    assert set(changed(up, back)) == EXPECTED["view"]
