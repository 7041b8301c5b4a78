"""Fixtures for the contract tests: one site deployed from the program's own specs on the test
daemon (tests/daemon.py has the daemon's fixtures). Everything made here is removed afterwards."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from contract_harness import contract_config, deployed
from daemon import site_disk


@pytest.fixture(scope="module")
def site(client, docker_host, standins, nofile_cap):
    tmp = tempfile.mkdtemp(prefix="o3-contract-")
    cfg, secrets = contract_config(os.path.join(tmp, "storage"), docker_host, nofile_cap)
    try:
        with site_disk(os.path.join(tmp, "storage")), deployed(client, standins, cfg, secrets) as s:
            yield s
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
