"""What the real Pulumi CLI does without running the program: the fleet view reads each stack's
`images` output from the state backend (file backend, passphrase stacks)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from e2e_harness import Project

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_FLEET = ROOT / "tests" / "fleet"
pytestmark = pytest.mark.e2e


@pytest.fixture
def fleet(pulumi_env, tmp_path):
    """The sample fleet as a project folder with a file state backend; st-marys deployed at an
    older pacs, riverside as declared, north-clinic never deployed, dev without a stack."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "Pulumi.yaml", project)
    for f in SAMPLE_FLEET.glob("Pulumi.*.yaml"):
        shutil.copy(f, project)
    env = {**os.environ, **pulumi_env, "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}",
           "PULUMI_CONFIG_PASSPHRASE": "fleet-test"}
    (tmp_path / "state").mkdir()

    def pulumi(*args: str) -> str:
        out = subprocess.run(["pulumi", *args, "--non-interactive"], cwd=project, env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return out.stdout

    deployed = {
        "st-marys": {"db": "mysql:8.0.34", "pacs": "europe-west1-docker.pkg.dev/o3-cloud-internal/partner/pacs-cloud:2.8.0",
                     "view": "europe-west1-docker.pkg.dev/o3-cloud-internal/partner/view:3.4.2"},
        "riverside": {"db": "mysql:8.0.34", "pacs": "europe-west1-docker.pkg.dev/o3-cloud-internal/partner/pacs-cloud:2.8.1",
                      "view": "europe-west1-docker.pkg.dev/o3-cloud-internal/partner/view:3.4.2"},
    }
    for stack in ("st-marys", "riverside", "north-clinic"):
        before = {p.name: p.read_text() for p in project.glob("Pulumi.*.yaml")}
        pulumi("stack", "init", stack, "--secrets-provider", "passphrase")
        for name, text in before.items():  # init adds a salt to the stack file: keep the files as shipped
            (project / name).write_text(text)
        if stack in deployed:
            state = json.loads(pulumi("stack", "export", "--stack", stack))
            state["deployment"]["resources"] = [{
                "urn": f"urn:pulumi:{stack}::o3::pulumi:pulumi:Stack::o3-{stack}", "custom": False,
                "type": "pulumi:pulumi:Stack", "outputs": {"images": deployed[stack]}}]
            (tmp_path / f"{stack}.json").write_text(json.dumps(state))
            pulumi("stack", "import", "--stack", stack, "--file", str(tmp_path / f"{stack}.json"), "--force")
    return project, {k: v for k, v in env.items() if k != "PULUMI_CONFIG_PASSPHRASE"}


def test_fleet_shows_deployed_against_declared_from_the_stacks_outputs(fleet):
    project, env = fleet
    out = subprocess.run([sys.executable, "-m", "ops.fleet", "--json", "--dir", str(project)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    rows = {r["stack"]: r for r in json.loads(out.stdout)}
    assert rows["st-marys"]["deployed"] == {"pacs": "2.8.0", "view": "3.4.2", "db": "8.0.34"}
    assert rows["st-marys"]["behind"] == {"pacs": {"deployed": "2.8.0", "declared": "2.8.1"}}
    assert rows["riverside"]["behind"] == {}
    assert rows["north-clinic"]["deployed"] is None and "no `images` output" in rows["north-clinic"]["deployedUnknown"]
    assert rows["dev"]["deployed"] is None and "no stack named 'dev'" in rows["dev"]["deployedUnknown"]
    table = subprocess.run([sys.executable, "-m", "ops.fleet", "--dir", str(project)], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=300).stdout
    line = next(l for l in table.splitlines() if l.startswith("st-marys"))
    assert "pacs 2.8.0 (declared 2.8.1)" in line
    assert "as declared" in next(l for l in table.splitlines() if l.startswith("riverside"))


def test_the_cli_requires_site_and_images_and_the_program_asks_for_the_host(pulumi_env, tmp_path):
    """Pulumi.yaml declares every key; the CLI treats a declared key without a default as
    required. The optional keys' {} / "" defaults must not trip that check. o3:host has one since
    a Kubernetes site has no host: on Docker the program itself asks for it, naming the key."""
    project = Project(tmp_path, "cfg", pulumi_env)
    project.pulumi("stack", "init", "cfg")
    head = project.stack_file.read_text() if project.stack_file.exists() else ""
    project.stack_file.write_text(head + "config:\n  o3:site:\n    name: cfg\n")
    out = project.pulumi("preview", check=False)
    assert out.returncode != 0 and "missing configuration value 'images'" in out.stdout + out.stderr

    sample = YAML().load(SAMPLE_FLEET / "Pulumi.north-clinic.yaml")  # site, host and images, nothing optional
    del sample["config"]["o3:host"]
    YAML().dump(sample, project.stack_file)
    out = project.pulumi("preview", check=False)
    text = out.stdout + out.stderr
    assert out.returncode != 0 and "o3:host: missing" in text and "o3:host.cpuCores" in text, text
    assert "Traceback" not in text
