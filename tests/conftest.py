import copy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from site_fixtures import BASE, PASSWORD, REGISTRY_KEY  # noqa: E402


@pytest.fixture
def base_config():
    """A valid site config (full keys), fresh for each test."""
    return copy.deepcopy(BASE)


@pytest.fixture
def secret_config(base_config):
    """A valid config with both secrets set as Pulumi secrets."""
    cfg = dict(base_config, **{"o3:dbPassword": PASSWORD, "o3:registryKey": REGISTRY_KEY})
    return cfg, {"o3:dbPassword", "o3:registryKey"}
