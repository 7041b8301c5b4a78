"""The README's deploy command stops with a clear message when a prerequisite is missing."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ("bash", "dirname", "grep", "awk", "env", "cat")


def run_deploy(tmp_path, with_pulumi: bool, env_extra=None):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        real = subprocess.run(["bash", "-c", f"command -v {tool}"], capture_output=True, text=True).stdout.strip()
        (bin_dir / tool).symlink_to(real)
    if with_pulumi:
        (bin_dir / "pulumi").write_text("#!/bin/sh\necho fake pulumi\n")
        (bin_dir / "pulumi").chmod(0o755)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), **(env_extra or {})}
    return subprocess.run([str(ROOT / "scripts" / "deploy"), "dev"], env=env, capture_output=True, text=True, timeout=30)


def test_missing_pulumi_cli_is_named_with_how_to_install(tmp_path):
    out = run_deploy(tmp_path, with_pulumi=False)
    assert out.returncode == 1
    assert "the Pulumi CLI is not installed" in out.stderr and "install" in out.stderr.lower()


def test_missing_docker_is_named(tmp_path):
    out = run_deploy(tmp_path, with_pulumi=True)
    assert out.returncode == 1
    assert "the docker CLI is not installed" in out.stderr
