"""The e2e families share the test daemon (.ci/run runs them side by side): the locks of
tests/e2e/conftest.py, in two pytest processes with stand-in fixtures in place of the daemon's."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCENARIOS = '''
import os, time, pytest

def log(what):
    with open(os.environ["EVENTS"], "a") as f:
        f.write(f"{time.monotonic():.3f} {os.environ['WHO']} {what}\\n")

@pytest.fixture(scope="session")
def docker_host():
    return "unix:///nowhere"

@pytest.fixture(scope="session")
def client(docker_host):
    return object()

@pytest.fixture(scope="session")
def nofile_cap(client):
    return 1024

@pytest.fixture(scope="session")
def images(client):  # a fixture that uses the daemon for a while as it is set up
    log("images start"); time.sleep(float(os.environ["SETUP_SECONDS"])); log("images end")

@pytest.fixture
def per_test(client):
    return 1

def test_a_docker_twin(nofile_cap):
    log("twin")

def test_b_uses_images(images):
    log("b")

def test_c_restarts_the_daemon(docker_host, per_test):
    log("restart start"); time.sleep(2); log("restart end")
'''


def families(tmp_path, kube: dict, docker: dict) -> list[tuple[float, str, str]]:
    """The Kubernetes family (`kube`: its -k and SETUP_SECONDS) started first, then the Docker-host
    family, holding the Docker site as .ci/run does; their events (time, family, what), and the
    time the Docker-host family ended."""
    shutil.copy(ROOT / "tests" / "e2e" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_scenarios.py").write_text(SCENARIOS)
    events = tmp_path / "events"
    env = dict(os.environ, EVENTS=str(events), O3_E2E_DAEMON_LOCK=str(tmp_path / "daemon.lock"),
               PYTHONPATH=os.pathsep.join(str(p) for p in (ROOT, ROOT / "tests", ROOT / "tests" / "e2e")))
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", os.devnull,
              "--rootdir", str(tmp_path), str(tmp_path / "test_scenarios.py")]
    site = str(tmp_path / "site.lock")
    other = subprocess.Popen([*pytest, "-k", kube["k"]],
                             env=dict(env, WHO="kube", SETUP_SECONDS=kube["setup"], O3_E2E_SITE_LOCK=site),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    while not events.exists():
        time.sleep(0.05)
    ran = subprocess.run(["flock", "-o", site, *pytest, "-k", docker["k"]],
                         env=dict(env, WHO="docker", SETUP_SECONDS=docker["setup"]), capture_output=True, text=True,
                         timeout=60)
    docker_done = time.monotonic()
    out, _ = other.communicate(timeout=60)
    assert ran.returncode == 0 and other.returncode == 0, ran.stdout + out
    found = []
    for line in events.read_text().splitlines():
        t, who, what = line.split(" ", 2)
        found.append((float(t), who, what))
    return found + [(docker_done, "docker", "ended")]


def test_a_daemon_restart_waits_for_a_setup_that_uses_the_daemon_elsewhere(tmp_path):
    at = {(who, what): t for t, who, what in families(tmp_path, kube={"k": "b_", "setup": "3"},
                                                        docker={"k": "c_", "setup": "0"})}
    assert at[("docker", "restart start")] >= at[("kube", "images end")]


def test_a_docker_site_elsewhere_waits_for_the_docker_family_and_runs_last(tmp_path):
    events = families(tmp_path, kube={"k": "a_ or b_", "setup": "0"}, docker={"k": "b_", "setup": "2"})
    at = {(who, what): t for t, who, what in events}
    assert at[("kube", "twin")] >= at[("docker", "images end")]
    assert [what for _, who, what in events if who == "kube"][-1] == "twin"
