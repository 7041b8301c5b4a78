"""What goes wrong on a real site, with the real CLI on a real daemon: an `up` interrupted while
it waits for the db (SIGINT, SIGKILL) and the README's recovery, a container removed by hand,
a moved storagePath, and the registry login (a good key pulls, a wrong key is named)."""

from __future__ import annotations

import shutil
import signal
import tempfile
import time
from pathlib import Path

import pytest

from daemon import clean, container_names, mysql
from e2e_harness import (REPOS, SITE, SITE_CONTAINERS, VERSIONS, CommandFailed, LocalRegistry, Project, http_json, publish,
                         stack_config)
from site_fixtures import PASSWORD

pytestmark = pytest.mark.e2e


@pytest.fixture
def make_site(pulumi_env, docker_host, client, images, nofile_cap):
    """Factory: a stack on fresh storage; everything it made is removed afterwards."""
    clean(client)
    made: list[tuple[Project, Path]] = []

    def make(stack: str, change=lambda cfg: None, secrets: dict | None = None) -> Project:
        work = Path(tempfile.mkdtemp(prefix=f"o3-e2e-{stack}-"))
        cfg = stack_config(str(work / "storage"), images, docker_host, nofile_cap)
        change(cfg)
        secrets = {"o3:dbPassword": PASSWORD, **(secrets or {})}
        p = Project(work, stack, pulumi_env, secrets=list(secrets.values()))
        p.init(cfg, secrets)
        made.append((p, work))
        return p

    yield make
    for p, work in made:
        p.destroy(check=False)
        p.remove()
        shutil.rmtree(work, ignore_errors=True)
    clean(client)


def storage_of(p: Project) -> Path:
    return Path(p._yaml().load(p.stack_file.read_text())["config"]["o3:site"]["storagePath"])


def db_sql(client, sql: str) -> str:
    """SQL as root with the password the db container holds (also right for a generated one)."""
    code, out = client.containers.get("db").exec_run(
        ["sh", "-c", f'MYSQL_PWD="$(cat /etc/o3-db-root-password)" mysql -uroot -N -e "{sql}"'])
    assert code == 0, out.decode()
    return out.decode()


def assert_converged(p: Project, client) -> None:
    """Every site container runs, the db is healthy with both schemas, and the drift check is green."""
    for name in SITE_CONTAINERS:
        assert client.containers.get(name).status == "running", name
    assert client.containers.get("db").attrs["State"]["Health"]["Status"] == "healthy"
    assert {"public_pacs", "public_view"} <= set(db_sql(client, "SHOW DATABASES").split())
    p.preview("--refresh", "--expect-no-changes", policy=False)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_an_up_interrupted_while_it_waits_for_the_db_converges_after_the_readme_recovery(make_site, client, sig):
    # A db that takes 25 s to become healthy, as MySQL 8 does on a large data folder.
    p = make_site(f"interrupted-{sig.name.lower()}",
                  lambda cfg: cfg.setdefault("o3:extraEnv", {}).update(db={"O3_STANDIN_START_DELAY": "25"}))
    proc = p.spawn("up", "--yes", "--stack", p.stack, "--skip-preview")
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        names = container_names(client)
        if "db" in names or proc.poll() is not None:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "up ended before it waited for the db: " + Path(proc.output_file.name).read_text()
    time.sleep(3)  # inside the db's wait
    orphans = p.interrupt(proc, sig)
    print(f"\n[figures] {sig.name}: {len(orphans)} plugin process(es) outlived the CLI and were ended")
    assert proc.returncode != 0
    assert not {"pacs", "view"} & container_names(client), "apps started before the db was healthy"
    write = storage_of(p) / "compose" / "storage" / "written-before-interrupt.dcm"
    write.write_text("image")
    # The README's recovery ("An interrupted `pulumi up`"): after a kill, release the lock the CLI
    # left; then one refresh that drops what the run had not recorded, and the same `up` again.
    if sig == signal.SIGKILL:
        p.pulumi("cancel", "--yes", "--stack", p.stack)
    p.pulumi("refresh", "--yes", "--stack", p.stack, "--clear-pending-creates", "--skip-preview")
    # A container the killed run had created but not recorded holds its fixed name: remove the
    # container (its data is in the bind mounts), as the README says.
    recorded = {r["outputs"].get("name") for r in p.resources("docker:index/container:Container")}
    for name in container_names(client, label=f"o3.site={SITE}") - recorded:
        assert sig == signal.SIGKILL, f"a graceful interrupt left {name} unrecorded"
        client.containers.get(name).remove(force=True)
    p.up()
    assert_converged(p, client)
    assert write.read_text() == "image"


def test_a_container_removed_by_hand_is_shown_by_the_drift_check_and_restored_by_up(make_site, client):
    p = make_site("removed")
    p.up()
    client.containers.get("view").remove(force=True)
    drift = p.preview("--refresh", "--expect-no-changes", policy=False, check=False)
    assert drift.returncode != 0 and f"{SITE}-apps-view" in drift.stdout + drift.stderr
    p.up()
    assert_converged(p, client)
    assert http_json(8181)["role"] == "view"


def test_a_moved_storage_path_gets_new_folders_and_leaves_the_old_data_alone(make_site, client):
    p = make_site("moved")
    p.up()
    old = storage_of(p)
    mysql(client.containers.get("db"), "CREATE TABLE public_pacs.moved_probe (v INT); INSERT INTO public_pacs.moved_probe VALUES (7)")
    (old / "compose" / "storage" / "study.dcm").write_text("dicom")
    # MySQL's own files change when the old db stops cleanly; everything else must stay as it is.
    def kept(root):
        return sorted(str(f.relative_to(root)) for f in root.rglob("*")
                      if f.is_file() and not str(f.relative_to(root)).startswith(("compose/db/", "compose/pacs/log/",
                                                                                   "compose/view/log/")))
    before = kept(old)
    new = old.parent / "moved-storage"
    p.edit(lambda cfg: cfg["o3:site"].update(storagePath=str(new)))
    p.up()
    assert_converged(p, client)
    for name in SITE_CONTAINERS:
        sources = [m["Source"] for m in client.containers.get(name).attrs["Mounts"]]
        assert sources and all(s.startswith(f"{new}/") for s in sources), (name, sources)
    for rel in ("compose/db", "compose/storage", "compose/pacs/shared-persist", "compose/view/shared-persist",
                "compose/pacs/log", "compose/view/log", "backups"):
        assert (new / rel).is_dir(), rel
    # The old folders are untouched: every file is still there.
    assert kept(old) == before
    assert list((old / "compose" / "db" / "public_pacs").glob("moved_probe.*")), "the old database lost a table"
    assert (old / "compose" / "storage" / "study.dcm").read_text() == "dicom"


KEY = '{"type":"service_account","id":"o3-e2e"}'  # short: htpasswd's bcrypt reads 72 bytes


@pytest.fixture(scope="module")
def private_registry(client, standins):
    """A registry that asks for the `_json_key` login, holding the site's three images."""
    cache = Path(tempfile.mkdtemp(prefix="o3-e2e-authreg-"))
    reg = LocalRegistry(cache / "storage", login=("_json_key", KEY))
    auth = {"username": "_json_key", "password": KEY}
    refs = {}
    for comp in ("db", "pacs", "view"):
        ref = f"{reg.host}/{REPOS[comp]}:{VERSIONS[comp][0]}"
        publish(client, standins["db" if comp == "db" else "app"], ref, VERSIONS[comp][0], auth=auth)
        refs[comp] = ref
    yield reg, refs
    reg.stop()
    shutil.rmtree(cache, ignore_errors=True)


def with_registry(reg, refs):
    def change(cfg):
        cfg["o3:registry"] = {"server": reg.host}
        cfg["o3:images"] = dict(refs)
    return change


def test_the_registry_key_logs_in_through_the_provider_and_the_images_are_pulled(make_site, client, private_registry):
    reg, refs = private_registry
    for ref in refs.values():
        assert not client.images.list(name=ref), f"{ref} is already on the daemon: the pull would prove nothing"
    p = make_site("registry", with_registry(reg, refs), {"o3:registryKey": KEY})
    p.up()
    assert_converged(p, client)
    for comp, ref in refs.items():
        assert client.images.get(ref).id == client.containers.get("db" if comp == "db" else comp).image.id
    assert KEY not in p.state_files_text()
    assert not Path.home().joinpath(".docker", "config.json").exists() or reg.host not in \
        Path.home().joinpath(".docker", "config.json").read_text()


def test_a_wrong_registry_key_fails_naming_the_registry(make_site, client, private_registry):
    reg, refs = private_registry
    for ref in refs.values():
        for img in client.images.list(name=ref):
            client.images.remove(img.id, force=True)
    wrong = '{"type":"service_account","id":"revoked"}'
    p = make_site("badkey", with_registry(reg, refs), {"o3:registryKey": wrong})
    with pytest.raises(CommandFailed) as failed:
        p.up()
    text = str(failed.value)
    assert reg.host in text and ("unauthorized" in text.lower() or "authentication required" in text.lower()), text[-3000:]
    assert not container_names(client) & set(SITE_CONTAINERS)


def test_a_generated_password_survives_destroy_and_the_next_up_opens_the_same_data(make_site, client):
    p = make_site("generated")
    p.pulumi("config", "rm", "o3:dbPassword", "--stack", p.stack)
    p.up()
    db_sql(client, "CREATE TABLE public_pacs.kept (v INT); INSERT INTO public_pacs.kept VALUES (42)")
    # A plain destroy would lose the password MySQL was initialised with: refused before anything goes.
    refused = p.destroy(check=False)
    assert refused.returncode != 0 and "protect" in refused.stdout + refused.stderr
    assert client.containers.get("db").status == "running"
    # The README's destroy for such a site keeps the generated password in the stack.
    p.pulumi("destroy", "--yes", "--stack", p.stack, "--exclude-protected")
    assert not container_names(client) & set(SITE_CONTAINERS)
    p.up()
    assert_converged(p, client)
    assert db_sql(client, "SELECT v FROM public_pacs.kept").split() == ["42"]
