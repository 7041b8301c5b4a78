"""Preflight against the real daemon: each check's pass and fail cases."""

from __future__ import annotations

import base64
import dataclasses
import http.server
import json
import shutil
import socket
import threading
from pathlib import Path

import pytest
from docker.types import IPAMConfig, IPAMPool

from ops import _docker as docker_ops
from ops import preflight
from sitespec import sizing
from sitespec.stackfile import load_stack_config

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[2]
KEY = '{"type": "service_account", "private_key": "test-key"}'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def stack_dir(tmp_path, docker_host):
    """A stack folder whose site uses free loopback ports, a temp storage path and a test subnet."""
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path)
    ports = [free_port() for _ in range(3)]
    (tmp_path / "Pulumi.pf.yaml").write_text(f"""
config:
  docker:host: {docker_host}
  o3:site: {{name: pf, timezone: UTC, storagePath: {tmp_path}/storage, concurrentUsers: 5, examsPerDay: 10}}
  o3:host: {{cpuCores: 8, memoryGb: 16, storageGb: 100, networkMbps: 1000}}
  o3:images: {{pacs: "registry.test/o3/pacs-cloud:1.0.0", view: "registry.test/o3/view:1.0.0"}}
  o3:network: {{subnet: 172.31.250.0/24}}
  o3:ports: {{bindAddress: 127.0.0.1, pacsHttp: {ports[0]}, pacsService: {ports[1]}, viewHttp: {ports[2]}}}
""")
    return tmp_path


@pytest.fixture
def cfg(stack_dir):
    return load_stack_config("pf", stack_dir)


@pytest.fixture
def host(client, standins):
    return docker_ops.HostProbe(client, standins["db"])


def with_cores(req: sizing.Requirements, cores: float, memory: float) -> sizing.Requirements:
    return dataclasses.replace(req, cores=sizing.Need(cores, "cores", "test"), memory_gb=sizing.Need(memory, "GB RAM", "test"))


def test_daemon_reachable_reports_its_version(client):
    c = docker_ops.check_daemon(client)
    assert c.status == "pass" and "Docker 2" in c.measured


def test_unreachable_daemon_fails_with_the_fix(cfg, standins):
    bad = cfg.model_copy(update={"docker_host": "unix:///nonexistent/docker.sock"})
    checks = docker_ops.preflight_checks(bad, standins["db"], None, False)
    assert [(c.name, c.status) for c in checks] == [("daemon", "fail")]
    assert "docker:host" in checks[0].fix


def test_cores_and_memory_against_the_minimums(client, cfg):
    info = client.info()
    req, _ = sizing.for_site(cfg)
    assert docker_ops.check_cores(info, with_cores(req, 1, 1), 8).status == "pass"
    short = docker_ops.check_cores(info, with_cores(req, info["NCPU"] + 1, 1), 8)
    assert short.status == "fail" and f"{info['NCPU']} cores" in short.measured
    assert docker_ops.check_memory(info, with_cores(req, 1, 1), 16).status == "pass"
    assert docker_ops.check_memory(info, with_cores(req, 1, 10_000), 16).status == "fail"


def test_free_space_at_the_storage_path(host, cfg):
    ok = docker_ops.check_storage(host, cfg.site.storage_path, 0.001)
    assert ok.status == "pass" and "GB free at" in ok.measured
    assert not Path(cfg.site.storage_path).exists(), "preflight must not create the storage folder"
    assert docker_ops.check_storage(host, cfg.site.storage_path, 10**7).status == "fail"


def test_ulimits_beyond_what_the_daemon_grants_fail_with_the_limit_and_the_fix(host, cfg, nofile_cap):
    if nofile_cap >= 46677:
        pytest.skip(f"this daemon grants nofile {nofile_cap}: the guide's 46677 fits")
    bad = docker_ops.check_ulimits(host, cfg)
    assert bad.status == "fail"
    assert f"at most nofile {nofile_cap}" in bad.measured and "o3:database.ulimits.nofileHard" in bad.fix
    fitted = cfg.model_copy(update={"database": cfg.database.model_copy(update={
        "ulimits": cfg.database.ulimits.model_copy(update={"nofile_soft": nofile_cap, "nofile_hard": nofile_cap})})})
    assert docker_ops.check_ulimits(host, fitted).status == "pass"


def test_ports_free_taken_by_a_container_or_by_a_host_process(host, client, cfg, standins):
    assert docker_ops.check_ports(host, cfg).status == "pass"
    squatter = client.containers.run(standins["app"], name="o3-preflight-squatter", detach=True,
                                     entrypoint=["sleep", "300"], ports={"80/tcp": ("127.0.0.1", cfg.ports.pacs_http)})
    try:
        c = docker_ops.check_ports(host, cfg)
        assert c.status == "fail" and f"{cfg.ports.pacs_http} (container 'o3-preflight-squatter')" in c.measured
    finally:
        squatter.remove(force=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", cfg.ports.view_http))
        s.listen()
        c = docker_ops.check_ports(host, cfg)
    assert c.status == "fail" and f"{cfg.ports.view_http} (a process on the host)" in c.measured


def test_subnet_overlapping_a_docker_network_fails(host, client, cfg):
    assert docker_ops.check_subnet(host, cfg).status == "pass"
    other = client.networks.create("o3-preflight-other",
                                   ipam=IPAMConfig(pool_configs=[IPAMPool(subnet="172.31.0.0/16")]))
    try:
        c = docker_ops.check_subnet(host, cfg)
        assert c.status == "fail" and "o3-preflight-other" in c.measured and "o3:network.subnet" in c.fix
    finally:
        other.remove()


@pytest.fixture
def fake_registry():
    """A registry on loopback that accepts `_json_key` with KEY (basic auth on /v2/)."""

    class JsonKeyRegistry(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            ok = self.headers.get("Authorization") == "Basic " + base64.b64encode(f"_json_key:{KEY}".encode()).decode()
            self.send_response(200 if ok else 401)
            self.send_header("Docker-Distribution-API-Version", "registry/2.0")
            if not ok:
                self.send_header("WWW-Authenticate", 'Basic realm="o3-test"')
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

        def log_error(self, *args):  # the daemon tries TLS first; that noise is expected
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), JsonKeyRegistry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_registry_login_passes_with_the_right_key_and_fails_without_echoing_it(client, cfg, fake_registry):
    c = cfg.model_copy(update={"registry": cfg.registry.model_copy(update={"server": fake_registry})})
    assert docker_ops.check_registry(client, c, KEY, True).status == "pass"
    wrong = "wrong-key-" + "x" * 20
    bad = docker_ops.check_registry(client, c, wrong, True)
    assert bad.status == "fail" and "401" in bad.measured and wrong not in bad.measured
    closed = cfg.model_copy(update={"registry": cfg.registry.model_copy(update={"server": f"127.0.0.1:{free_port()}"})})
    assert docker_ops.check_registry(client, closed, KEY, True).status == "fail"
    assert docker_ops.check_registry(client, cfg, None, True).status == "warn"


def test_helper_containers_are_removed_even_when_refused(host, client, cfg):
    before = {c.id for c in client.containers.list(all=True)}
    docker_ops.check_ulimits(host, cfg)
    docker_ops.check_storage(host, cfg.site.storage_path, 1)
    assert {c.id for c in client.containers.list(all=True)} == before


def test_command_reports_every_check_and_exits_non_zero_on_a_fail(stack_dir, standins, capsys, client):
    rc = preflight.main(["--stack", "pf", "--dir", str(stack_dir), "--helper-image", standins["db"], "--json"])
    report = json.loads(capsys.readouterr().out)
    names = [c["name"] for c in report["checks"]]
    assert names == ["daemon", "cores", "memory", "storage", "ulimits", "ports", "subnet", "registry"]
    failed = [c["name"] for c in report["checks"] if c["status"] == "fail"]
    assert (rc == 1) == bool(failed) and report["ok"] is (not failed)
    # This machine has fewer cores than any row of the vendor's table.
    if client.info()["NCPU"] < 6:
        assert "cores" in failed and rc == 1
