import copy
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from site_fixtures import BASE, PASSWORD, REGISTRY_KEY  # noqa: E402


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
