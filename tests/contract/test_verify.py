"""ops.verify on a real daemon: a healthy site verifies; a stopped view, a wrong image and a
missing schema each fail with the line that says so."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from contract_harness import stack_project
from daemon import mysql

pytestmark = pytest.mark.engine
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def verified_site(site, client, standins):
    """The contract site, with the stack's declared image references naming what actually runs
    (the applier ran the stand-ins under their own tags)."""
    images = site.config["o3:images"]
    tags = {images.get("db", "mysql:8.0.34"): standins["db"], images["pacs"]: standins["app"], images["view"]: standins["app"]}
    for ref, standin in tags.items():
        repo, tag = ref.rsplit(":", 1)
        client.images.get(standin).tag(repo, tag)
    yield site
    for ref in tags:
        client.images.remove(ref, noprune=True)


@pytest.fixture
def project(verified_site, tmp_path):
    return stack_project(verified_site.config, "contract", tmp_path)


def verify(project) -> tuple[int, dict[str, dict]]:
    out = subprocess.run([sys.executable, "-m", "ops.verify", "--stack", "contract", "--dir", str(project), "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in out.stderr, out.stderr
    report = json.loads(out.stdout)
    return out.returncode, {c["name"]: c for c in report["checks"]}


def failed(checks) -> dict[str, str]:
    return {n: c["measured"] for n, c in checks.items() if c["status"] == "fail"}


def test_a_healthy_site_verifies(project):
    code, checks = verify(project)
    assert failed(checks) == {} and code == 0
    for name in ("db", "pacs", "pacs-singleton", "view", "o3-maintenance", "db health", "schemas", "view http",
                 "pacs http", "pacs 4568", "storage", "versions"):
        assert checks[name]["status"] == "pass", (name, checks[name])
    assert checks["backup"]["status"] == "warn" and "no nightly dump yet" in checks["backup"]["measured"]
    table = subprocess.run([sys.executable, "-m", "ops.verify", "--stack", "contract", "--dir", str(project)],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert table.returncode == 0 and "result: the site works" in table.stdout


def test_a_stopped_view_fails_verify(project, verified_site):
    view = verified_site.containers["view"]
    view.stop(timeout=5)
    try:
        code, checks = verify(project)
    finally:
        view.start()
    assert code == 1
    assert "exited, not running" in failed(checks)["view"]
    assert "does not answer" in failed(checks)["view http"]


def test_a_wrong_image_fails_verify(project, verified_site, client, standins):
    ref = verified_site.config["o3:images"]["view"]
    repo, tag = ref.rsplit(":", 1)
    client.images.get(standins["proxy"]).tag(repo, tag)  # the declared view now names another image
    try:
        code, checks = verify(project)
    finally:
        client.images.get(standins["app"]).tag(repo, tag)
    assert code == 1
    assert "not the declared" in failed(checks)["view"] and ref in failed(checks)["view"]


def test_a_missing_schema_fails_verify(project, verified_site):
    db = verified_site.containers["db"]
    mysql(db, "DROP SCHEMA public_view")
    try:
        code, checks = verify(project)
    finally:
        mysql(db, "CREATE SCHEMA public_view")
    assert code == 1 and failed(checks)["schemas"] == "missing: public_view"


def test_a_failed_nightly_dump_fails_verify(project, verified_site):
    status = Path(verified_site.storage, "backups", ".o3-nightly-status")
    status.write_text('{"at": "2026-11-27T02:30:00Z", "ok": false, "file": "", "message": "nightly dump failed: boom"}\n')
    try:
        code, checks = verify(project)
    finally:
        status.unlink()
    assert code == 1 and "nightly dump failed: boom" in failed(checks)["backup"]
