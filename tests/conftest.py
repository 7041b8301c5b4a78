import copy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PACS = "europe-west1-docker.pkg.dev/o3-cloud-internal/partner/pacs-cloud:1.2.3"
VIEW = "europe-west1-docker.pkg.dev/o3-cloud-internal/partner/view:4.5.6"
PASSWORD = "Site-Secret_Pw.2026"
REGISTRY_KEY = '{"type": "service_account", "private_key": "-----BEGIN KEY-----sekrit"}'

BASE = {
    "o3:site": {
        "name": "test-site",
        "timezone": "Europe/Rome",
        "storagePath": "/srv/o3",
        "concurrentUsers": 10,
        "examsPerDay": 100,
    },
    "o3:host": {"cpuCores": 8, "memoryGb": 16, "storageGb": 500, "networkMbps": 1000},
    "o3:images": {"pacs": PACS, "view": VIEW},
}


@pytest.fixture
def base_config():
    """A valid site config (full keys), fresh for each test."""
    return copy.deepcopy(BASE)


@pytest.fixture
def secret_config(base_config):
    """A valid config with both secrets set as Pulumi secrets."""
    cfg = dict(base_config, **{"o3:dbPassword": PASSWORD, "o3:registryKey": REGISTRY_KEY})
    return cfg, {"o3:dbPassword", "o3:registryKey"}
