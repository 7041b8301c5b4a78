"""A valid site config and secrets shared by the tests."""

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
