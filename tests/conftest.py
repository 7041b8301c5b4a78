import copy
import shutil
from pathlib import Path

import pytest

from site_fixtures import BASE, PASSWORD, REGISTRY_KEY

# The test daemon's fixtures, shared by tests/contract and tests/e2e.
pytest_plugins = ["daemon"]

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fleet_dir(tmp_path):
    """A project folder with the sample fleet (tests/fleet), never the shipped stack files."""
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path)
    for f in (ROOT / "tests" / "fleet").glob("Pulumi.*.yaml"):
        shutil.copy(f, tmp_path)
    return tmp_path


@pytest.fixture
def base_config():
    """A valid site config (full keys), fresh for each test."""
    return copy.deepcopy(BASE)


@pytest.fixture
def secret_config(base_config):
    """A valid config with both secrets set as Pulumi secrets."""
    cfg = dict(base_config, **{"o3:dbPassword": PASSWORD, "o3:registryKey": REGISTRY_KEY})
    return cfg, {"o3:dbPassword", "o3:registryKey"}
