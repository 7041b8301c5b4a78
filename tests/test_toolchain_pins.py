"""The toolchain pins (scripts/pulumi-toolchain.versions) agree with the pinned Python SDKs.

Fast: reads files only (no network, no build). The provider plugin versions must equal what the
installed SDK packages request in their pulumi-plugin.json (the CLI matches plugin versions
exactly), and the CLI must be at least the Python SDK's `pulumi==` pin in requirements.txt.
"""
import importlib.resources
import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
VERSIONS_FILE = REPO / "scripts" / "pulumi-toolchain.versions"
REQUIREMENTS = REPO / "requirements.txt"


def _pins():
    pins = {}
    for line in VERSIONS_FILE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"not KEY=VALUE: {line!r}"
            pins[key.strip()] = value.strip()
    return pins


def _release(version):
    m = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)", version)
    assert m, f"not a release version: {version!r}"
    return tuple(int(x) for x in m.groups())


def _requirement(name):
    for line in REQUIREMENTS.read_text().splitlines():
        m = re.match(rf"\s*{re.escape(name)}\s*==\s*([^\s;#]+)", line, re.IGNORECASE)
        if m:
            return m.group(1)
    raise AssertionError(f"{name}== not pinned in requirements.txt")


@pytest.mark.parametrize("package,key,plugin", [
    ("pulumi_docker", "DOCKER", "docker"),
    ("pulumi_command", "COMMAND", "command"),
    ("pulumi_random", "RANDOM", "random"),
])
def test_plugin_version_matches_sdk(package, key, plugin):
    meta = json.loads(importlib.resources.files(package).joinpath("pulumi-plugin.json").read_text())
    assert meta["name"] == plugin
    assert _pins()[f"{key}_PLUGIN_VERSION"] == meta["version"]


def test_cli_at_least_python_sdk_pin():
    pins = _pins()
    assert _release(pins["PULUMI_VERSION"]) >= _release(_requirement("pulumi"))


def test_every_provider_names_its_module():
    pins = _pins()
    for key in ("DOCKER", "COMMAND", "RANDOM"):
        assert pins[f"{key}_MODULE"].startswith(f"github.com/pulumi/pulumi-{key.lower()}/provider")
        assert pins[f"{key}_MAIN"] == f"./cmd/pulumi-resource-{key.lower()}"
