"""A remote site over ssh://, for real: a test host in a network namespace with its own sshd and
dockerd (tests/sshhost.py). The program's folder, schema and backup steps, preflight, verify,
backup and restore all reach it through `ssh` with the stack's docker:sshOpts; what they create
is on that host, not here. The ssh failures an operator meets each get their own message."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from apply import Applier
from contract_harness import image_map, not_due_schedule, stack_project
from daemon import db_limits
from engine import evaluate
from ops._site import use_ssh_opts
from site_fixtures import BASE, PASSWORD
from sshhost import RemoteHost

pytestmark = pytest.mark.engine
ROOT = Path(__file__).resolve().parents[2]
STORAGE = "/srv/o3-remote"  # on the remote host's own /srv


@pytest.fixture(scope="module")
def remote(client, standins, docker_host):
    host = RemoteHost().up()
    path = os.environ["PATH"]
    try:
        host.load(docker_host, list(standins.values()))  # over ssh, like any side-loaded image
        yield host
    finally:
        os.environ["PATH"] = path  # the ssh wrapper remote_site puts on PATH is this module's only
        host.down()


def remote_config(host, nofile_cap: int) -> dict:
    cfg = copy.deepcopy(BASE)
    cfg["o3:site"].update(storagePath=STORAGE, publicHost=host.address)
    cfg["o3:database"] = db_limits(nofile_cap)
    cfg["o3:backup"] = {"schedule": not_due_schedule()}
    cfg["o3:dbPassword"] = PASSWORD
    cfg["docker:host"] = host.docker_host
    cfg["docker:sshOpts"] = host.ssh_opts()
    return cfg


@pytest.fixture(scope="module")
def remote_site(remote, standins, nofile_cap):
    import docker

    cfg = remote_config(remote, nofile_cap)
    ev = evaluate(cfg, {"o3:dbPassword"})
    use_ssh_opts(cfg["docker:sshOpts"])  # docker-py's ssh transport runs `ssh` too
    rclient = docker.DockerClient(base_url=remote.docker_host, use_ssh_client=True, timeout=300)
    applier = Applier(rclient, image_map(ev.resources, standins))
    applier.network(ev.one("docker:index/network:Network"))
    steps = {}
    for suffix in ("-mkdir", "-dump"):
        steps[suffix] = applier.command(ev.command(suffix))
        assert steps[suffix].returncode == 0, steps[suffix].stderr
    applier.container(ev.container("db"))
    steps["-create"] = applier.command(ev.command("-create"))
    assert steps["-create"].returncode == 0, steps["-create"].stderr
    for name in ("pacs", "pacs-singleton", "view", "o3-maintenance"):
        applier.container(ev.container(name))
    # The stack's references name what runs (the applier ran the stand-ins under their own tags).
    for ref, standin in ((cfg["o3:images"].get("db", "mysql:8.0.34"), standins["db"]),
                         (cfg["o3:images"]["pacs"], standins["app"]), (cfg["o3:images"]["view"], standins["app"])):
        rclient.images.get(standin).tag(*ref.rsplit(":", 1))
    yield {"cfg": cfg, "ev": ev, "client": rclient, "applier": applier, "steps": steps}


@pytest.fixture
def project(remote_site, tmp_path):
    return stack_project(remote_site["cfg"], "remote", tmp_path)


def ops(project, command, *args, env=None):
    if env is None:  # as an operator's shell would be: without this test process's ssh wrapper
        env = dict(os.environ, PATH=os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep) if "/o3-ssh-" not in d))
    return subprocess.run([sys.executable, "-m", f"ops.{command}", "--stack", "remote", "--dir", str(project), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)


def test_preflight_measures_everything_over_ssh(project):
    out = ops(project, "preflight", "--json")
    report = json.loads(out.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert set(checks) == {"daemon", "cores", "memory", "storage", "ulimits", "ports", "subnet", "registry"}
    for name in ("daemon", "storage", "ulimits", "ports", "subnet"):
        assert checks[name]["status"] == "pass", checks[name]
    assert "held by the site itself" in checks["ports"]["measured"]
    # Measured on the remote host: its /srv is a 100 GB file system of its own.
    assert f"at {STORAGE} (for {STORAGE})" in checks["storage"]["measured"]
    assert checks["storage"]["measured"].startswith(("99.", "100."))
    # This machine is smaller than the vendor's minimum for 10 users: that, and only that, fails.
    assert {n for n, c in checks.items() if c["status"] == "fail"} <= {"cores", "memory"}


def test_verify_passes_over_ssh_with_the_apps_answering_from_here(project, remote):
    out = ops(project, "verify", "--json")
    checks = {c["name"]: c for c in json.loads(out.stdout)["checks"]}
    assert out.returncode == 0, {n: c for n, c in checks.items() if c["status"] == "fail"}
    assert f"http://{remote.address}:8181/ answers 200" in checks["view http"]["measured"]


def test_backup_and_restore_over_ssh(project, remote):
    out = ops(project, "backup")
    assert out.returncode == 0, out.stderr
    name = next(w for w in out.stdout.split() if "o3-manual-" in w).rsplit("/", 1)[-1]
    assert remote.remote_path_exists(f"{STORAGE}/backups/{name}")
    out = ops(project, "restore", "--file", name, "--yes")
    assert out.returncode == 0 and "restored" in out.stdout, out.stderr


@pytest.mark.parametrize("case, words", [
    ("unknown host key", "not in your known_hosts file"),
    ("refused key", "the host refused the SSH key"),
    ("no sshd there", "nothing answers on the SSH port"),
    ("unreachable", "cannot be reached over the network"),
])
def test_each_ssh_failure_says_which_and_how_to_fix_it(project, remote, case, words):
    path = project / "Pulumi.remote.yaml"
    doc = YAML().load(path.read_text())
    cfg = doc["config"]
    if case == "unknown host key":
        cfg["docker:sshOpts"] = remote.ssh_opts(known_hosts=remote.empty_known_hosts)
    elif case == "refused key":
        cfg["docker:sshOpts"] = remote.ssh_opts(key=remote.other_key)
    elif case == "no sshd there":
        cfg["docker:host"] = f"ssh://root@{remote.address}:2222"
    else:
        cfg["docker:host"] = f"ssh://root@{remote.unused}"
    YAML().dump(doc, path)
    for command in ("preflight", "verify"):
        out = ops(project, command)
        text = out.stdout + out.stderr
        assert out.returncode in (1, 2) and words in text and "Traceback" not in text, (command, text)


def test_a_missing_ssh_client_is_named(project, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    out = ops(project, "verify", env={"PATH": str(bin_dir), "HOME": str(tmp_path)})
    assert out.returncode == 2 and "no `ssh` client on this machine" in out.stderr, out.stderr
