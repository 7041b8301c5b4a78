"""The toolchain pins (scripts/pulumi-toolchain.versions) agree with the pinned Python SDKs and
with the sources they are built from.

Fast: reads files only (no network, no build). Three things must stay equal:
- each provider SDK's pulumi-plugin.json version and the plugin version the script builds
  (the CLI matches plugin versions exactly, so a mismatch means "plugin not found" at `up`);
- the upstream commits in the versions file and those in ../shared/third_party/SOURCES.md;
- the CLI, the Python language host and the Python SDK (`pulumi==` in both requirements files).
The tests that read ../shared/third_party skip on a clone without it (and fail under
O3_TESTS_REQUIRED=1, as .ci/run sets: tests/daemon.py).
"""
import importlib.resources
import json
import os
import re
from pathlib import Path

import pytest

from daemon import missing

REPO = Path(__file__).resolve().parent.parent
VERSIONS_FILE = REPO / "scripts" / "pulumi-toolchain.versions"
CLI_VERSION_FILE = REPO / ".pulumi-version"  # the CLI's version, read by the script and the workflows
THIRD_PARTY = Path(os.environ.get("O3_THIRD_PARTY") or REPO.parent / "shared" / "third_party")
PROVIDERS = ("COMMAND", "RANDOM", "DOCKER")


def _pins():
    pins = {}
    for line in VERSIONS_FILE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"not KEY=VALUE: {line!r}"
            pins[key.strip()] = value.strip()
    assert "PULUMI_VERSION" not in pins, "the CLI's version belongs in .pulumi-version only"
    pins["PULUMI_VERSION"] = CLI_VERSION_FILE.read_text().strip()
    return pins


@pytest.fixture
def sources():
    """folder -> (tag, commit) from SOURCES.md's table."""
    path = THIRD_PARTY / "SOURCES.md"
    if not path.is_file():
        missing(f"{path} is missing: the toolchain's upstream sources (../shared/third_party, or O3_THIRD_PARTY) "
                "are not beside this clone")
    rows = {}
    for line in path.read_text().splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and re.fullmatch(r"[0-9a-f]{40}", cells[3]):
            rows[cells[0]] = (cells[2], cells[3])
    return rows


def _requirement(path, name):
    for line in path.read_text().splitlines():
        m = re.match(rf"\s*{re.escape(name)}\s*==\s*([^\s;#]+)", line, re.IGNORECASE)
        if m:
            return m.group(1)
    raise AssertionError(f"{name}== not pinned in {path.name}")


@pytest.mark.parametrize("package,key,plugin", [
    ("pulumi_docker", "DOCKER", "docker"),
    ("pulumi_command", "COMMAND", "command"),
    ("pulumi_random", "RANDOM", "random"),
    ("pulumi_kubernetes", "KUBERNETES", "kubernetes"),
])
def test_plugin_version_matches_sdk(package, key, plugin):
    meta = json.loads(importlib.resources.files(package).joinpath("pulumi-plugin.json").read_text())
    assert meta["name"] == plugin
    pins = _pins()
    assert pins[f"{key}_PLUGIN_VERSION"] == meta["version"]
    # and what the plugin is built from is that release: a third_party tree, or the proxy's
    # module at the release commit with the released sdk
    if f"{key}_SOURCE" in pins:
        assert pins[f"{key}_SOURCE"] == f"pulumi-{plugin}-{meta['version']}"
    else:
        assert pins[f"{key}_MODULE_VERSION"].endswith("-" + pins[f"{key}_COMMIT"]), "the pseudo-version names the release commit"
        assert pins[f"{key}_SDK_VERSION"] == f"v{meta['version']}"


def test_commits_match_sources_md(sources):
    pins, rows = _pins(), sources
    pairs = {pins[f"{k}_SOURCE"]: pins[f"{k}_COMMIT"] for k in (*PROVIDERS, "LANGUAGE_PYTHON")}
    pairs[pins["DOCKER_UPSTREAM"]] = pins["DOCKER_UPSTREAM_COMMIT"]
    for key in [k for k in pins if re.fullmatch(r"\w+_REPLACE_\d+", k)]:
        pairs[pins[key].partition("=")[2].split("/")[0]] = pins[f"{key}_COMMIT"]
    assert set(pairs) == set(rows), "the versions file and SOURCES.md name different source trees"
    for folder, commit in pairs.items():
        assert rows[folder][1] == commit, f"{folder}: versions file says {commit}, SOURCES.md {rows[folder][1]}"
        assert (THIRD_PARTY / folder).is_dir(), f"{THIRD_PARTY / folder} is missing"


def test_cli_language_host_and_sdk_are_one_release():
    pins = _pins()
    cli = pins["PULUMI_VERSION"]
    assert _requirement(REPO / "requirements.txt", "pulumi") == cli
    assert _requirement(REPO / "policy" / "requirements.txt", "pulumi") == cli
    assert pins["LANGUAGE_PYTHON_SOURCE"] == f"pulumi-language-python-{cli}"
    from importlib.metadata import version
    assert version("pulumi") == cli, f"the installed Python SDK is {version('pulumi')}, not {cli}: rerun scripts/test"


def test_language_host_source_is_the_cli_release(sources):
    pins = _pins()
    cli = pins["PULUMI_VERSION"]
    assert sources[pins["LANGUAGE_PYTHON_SOURCE"]][0] == f"v{cli}", \
        "SOURCES.md's tag for the language host is not the CLI's release"
