"""The HTTPS front door on a real daemon (nginx laid out like the official image): TLS with the
site's certificate verified against the test CA, HSTS, the apps' plain ports on loopback only,
the key only in a 0400 file, and a renewal served by a new proxy while the apps stay."""

from __future__ import annotations

import copy
import http.client
import os
import shutil
import socket
import ssl
import tempfile

import pytest

from contract_harness import contract_config, deployed
from tlsfixtures import TestCA

pytestmark = pytest.mark.engine

CA = TestCA("O3 Contract Test CA")
HOST = "localhost"


def tls_config(storage, docker_host, nofile_cap, issued):
    cfg, secrets = contract_config(storage, docker_host, nofile_cap)
    cfg["o3:site"]["publicHost"] = HOST
    cfg["o3:ports"] = {"bindAddress": "0.0.0.0"}  # the proxy on every interface, as on a site
    cfg["o3:tls"] = {"enabled": True, "certificate": issued.cert_pem}
    cfg["o3:tlsKey"] = issued.key_pem
    return cfg, secrets | {"o3:tlsKey"}


@pytest.fixture(scope="module")
def tls_site(client, docker_host, standins, nofile_cap):
    issued = CA.issue(HOST, "127.0.0.1")
    tmp = tempfile.mkdtemp(prefix="o3-contract-")
    cfg, secrets = tls_config(os.path.join(tmp, "storage"), docker_host, nofile_cap, issued)
    try:
        with deployed(client, standins, cfg, secrets) as s:
            s.issued = issued
            s.secrets = secrets
            yield s
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ca_file(tmp_path) -> str:
    path = tmp_path / "ca.pem"
    path.write_text(CA.pem)
    return str(path)


def get(port: int, cafile: str, host: str = HOST, attempts: int = 120):
    """GET / over TLS, retried while nginx (reset connections) or the app behind it (502) is
    still starting; certificate errors are never retried."""
    import time

    for i in range(attempts):
        try:
            r, body, der, version = _get(port, cafile, host)
        except ssl.SSLCertVerificationError:
            raise
        except OSError:
            if i == attempts - 1:
                raise
            time.sleep(0.25)
            continue
        if r.status != 502:
            break
        time.sleep(0.25)
    return r, body, der, version


def _get(port: int, cafile: str, host: str = HOST):
    ctx = ssl.create_default_context(cafile=cafile)
    conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=10)
    conn.request("GET", "/")
    r = conn.getresponse()
    body = r.read()
    der = conn.sock.getpeercert(binary_form=True)
    version = conn.sock.version()
    conn.close()
    return r, body, der, version


def gateway(tls_site) -> str:
    """The host's own address on the site's bridge (Docker gives the bridge the subnet's first address)."""
    import ipaddress

    net = tls_site.containers["db"].client.networks.get("o3net")
    subnet = ipaddress.ip_network(net.attrs["IPAM"]["Config"][0]["Subnet"])
    return str(next(subnet.hosts()))


def test_https_answers_with_the_sites_certificate_and_hsts(tls_site, tmp_path):
    import json

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    leaf = x509.load_pem_x509_certificate(tls_site.issued.leaf_pem.encode()).public_bytes(serialization.Encoding.DER)
    for port, role in ((443, "view"), (8443, "pacs")):
        r, body, der, version = get(port, ca_file(tmp_path))
        log = tls_site.containers["o3-proxy"].exec_run(["tail", "-5", "/var/log/nginx/error.log"])[1].decode()
        assert r.status == 200, log
        assert json.loads(body)["role"] == role
        assert r.getheader("Strict-Transport-Security").startswith("max-age=63072000")
        assert der == leaf and version in ("TLSv1.2", "TLSv1.3")


def test_a_client_that_does_not_trust_the_ca_is_refused(tls_site):
    with pytest.raises(ssl.SSLCertVerificationError):
        get(443, cafile=None)


def test_plain_http_is_on_loopback_only(tls_site):
    gw = gateway(tls_site)  # an address of this host that is not loopback (the site's own bridge)
    for port in (8080, 8181):
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        with pytest.raises(OSError):
            socket.create_connection((gw, port), timeout=5).close()
    socket.create_connection((gw, 443), timeout=5).close()  # the front door is on every interface
    socket.create_connection((gw, 4568), timeout=5).close()  # 4568 stays as configured


def test_the_key_is_only_a_0400_file_in_the_proxy(tls_site):
    proxy = tls_site.containers["o3-proxy"]
    proxy.reload()
    key_body = tls_site.issued.key_pem.split("\n")[1]
    assert key_body not in str(proxy.attrs["Config"]) + str(proxy.attrs["HostConfig"])
    code, out = proxy.exec_run(["stat", "-c", "%a %U", "/etc/nginx/tls/site.key"])
    assert out.decode().split() == ["400", "root"]


def test_a_renewal_is_served_by_a_new_proxy_and_the_apps_stay(tls_site, tmp_path):
    from engine import evaluate

    apps = {n: tls_site.containers[n].id for n in ("db", "pacs", "pacs-singleton", "view")}
    renewed = CA.issue(HOST, "127.0.0.1", days=700)
    cfg = copy.deepcopy(tls_site.config)
    cfg["o3:tls"]["certificate"] = renewed.cert_pem
    cfg["o3:tlsKey"] = renewed.key_pem
    spec = evaluate(cfg, tls_site.secrets).container("o3-proxy")
    tls_site.containers["o3-proxy"].remove(force=True)  # delete-before-replace: fixed name and ports
    tls_site.containers["o3-proxy"] = tls_site.applier.container(spec).container

    _, _, der, _ = get(443, ca_file(tmp_path))
    from cryptography import x509

    assert x509.load_der_x509_certificate(der).not_valid_after_utc == \
        x509.load_pem_x509_certificate(renewed.leaf_pem.encode()).not_valid_after_utc
    assert {n: tls_site.containers[n].id for n in apps} == apps
