"""The README's deploy command stops with a clear message when a prerequisite is missing."""

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ("bash", "dirname", "grep", "awk", "env", "cat")


def run_deploy(tmp_path, with_pulumi: bool, env_extra=None, project=ROOT):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    for tool in TOOLS:
        real = subprocess.run(["bash", "-c", f"command -v {tool}"], capture_output=True, text=True).stdout.strip()
        (bin_dir / tool).symlink_to(real)
    if with_pulumi:
        (bin_dir / "pulumi").write_text("#!/bin/sh\necho fake pulumi\n")
        (bin_dir / "pulumi").chmod(0o755)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), **(env_extra or {})}
    return subprocess.run([str(project / "scripts" / "deploy"), "dev"], env=env, capture_output=True, text=True, timeout=30)


def test_missing_pulumi_cli_is_named_with_how_to_install(tmp_path):
    out = run_deploy(tmp_path, with_pulumi=False)
    assert out.returncode == 1
    assert "the Pulumi CLI is not installed" in out.stderr and "install" in out.stderr.lower()


def test_missing_pulumi_cli_names_the_pinned_version_and_the_offline_route(tmp_path):
    # A project whose pin differs from ours: the message reads .pulumi-version, it does not repeat a literal.
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    shutil.copy2(ROOT / "scripts" / "deploy", project / "scripts" / "deploy")
    (project / ".pulumi-version").write_text("3.1.4\n")
    out = run_deploy(tmp_path, with_pulumi=False, project=project)
    assert out.returncode == 1
    assert "version 3.1.4 (.pulumi-version)" in out.stderr
    assert "--version 3.1.4" in out.stderr, "the online install must ask for the pinned version, not the latest"
    assert "scripts/pulumi-toolchain" in out.stderr and 'eval "$(scripts/pulumi-toolchain --env)"' in out.stderr
    ours = (ROOT / ".pulumi-version").read_text().strip()
    assert f"version {ours} " in run_deploy(tmp_path / "ours", with_pulumi=False).stderr


def test_missing_docker_is_named(tmp_path):
    out = run_deploy(tmp_path, with_pulumi=True)
    assert out.returncode == 1
    assert "the docker CLI is not installed" in out.stderr
