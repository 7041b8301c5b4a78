"""The pre-upgrade backup on a real daemon: written where it should be, restorable, bounded."""

from __future__ import annotations

import gzip
import os
import subprocess
import time

import pytest

from daemon import mysql
from site_fixtures import PASSWORD

pytestmark = pytest.mark.engine


def backups(site) -> list[str]:
    folder = os.path.join(site.storage, "backups")
    return sorted(f for f in os.listdir(folder)) if os.path.isdir(folder) else []


def test_backup_is_a_compressed_dump_named_after_old_and_new_versions(site):
    out = site.applier.command(site.command("-dump"))
    assert out.returncode == 0, out.stderr
    names = [n for n in backups(site) if n.endswith(".sql.gz")]
    assert names, out.stdout
    name = names[-1]
    # Old versions come from the running containers' o3.image labels, new ones from the config.
    assert "_from_db-8.0.34_pacs-1.2.3_view-4.5.6_to_db-8.0.34_pacs-1.2.3_view-4.5.6.sql.gz" in name
    assert name.startswith("o3-backup-2") and "T" in name and "Z_from" in name
    text = gzip.open(os.path.join(site.storage, "backups", name), "rt").read()
    assert "CREATE DATABASE" in text and "public_pacs" in text and "public_view" in text
    assert PASSWORD not in out.stdout + out.stderr


def test_the_dump_restores(site):
    db = site.containers["db"]
    mysql(db, "CREATE TABLE IF NOT EXISTS public_view.restore_probe (v INT); INSERT INTO public_view.restore_probe VALUES (42)")
    assert site.applier.command(site.command("-dump")).returncode == 0
    latest = os.path.join(site.storage, "backups", backups(site)[-1])
    mysql(db, "DROP SCHEMA public_view")
    restore = subprocess.run(
        ["docker", "exec", "-i", "-e", "MYSQL_PWD", "db", "mysql", "-uroot"],
        input=gzip.open(latest).read(), capture_output=True,
        env={**os.environ, "DOCKER_HOST": site.config["docker:host"], "MYSQL_PWD": PASSWORD},
    )
    assert restore.returncode == 0, restore.stderr
    assert mysql(db, "SELECT v FROM public_view.restore_probe").split() == ["42"]


def test_retention_keeps_the_newest(site):
    for _ in range(3):
        assert site.applier.command(site.command("-dump"), env_override={"O3_RETAIN": "2"}).returncode == 0
        time.sleep(1.1)  # names carry the second
    assert len([n for n in backups(site) if n.endswith(".sql.gz")]) == 2


def test_a_failed_dump_stops_with_a_clear_message_and_leaves_no_partial_file(site):
    before = backups(site)
    wrong = "Wrong-Password_555"
    out = site.applier.command(site.command("-dump"), env_override={"MYSQL_PWD": wrong})
    assert out.returncode == 1
    assert "the upgrade stops here" in out.stderr and "Access denied" in out.stderr
    assert wrong not in out.stdout + out.stderr
    assert backups(site) == before


def test_a_settings_only_update_takes_no_dump(site):
    before = backups(site)
    out = site.applier.command(site.command("-dump"), step="update")
    assert out.returncode == 0 and "no dump" in out.stdout
    assert backups(site) == before
