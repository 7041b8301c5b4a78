"""A test CA and certificates made on the fly (cryptography), for the TLS config and proxy tests,
and the mock-engine tests' site with the HTTPS front door on."""

from __future__ import annotations

import copy
import datetime as dt
import ipaddress
from dataclasses import dataclass
from typing import Optional

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from site_fixtures import BASE


def _pem_key(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@dataclass
class Issued:
    cert_pem: str  # leaf + CA chain
    key_pem: str
    leaf_pem: str


class TestCA:
    __test__ = False  # not a pytest class

    def __init__(self, name: str = "O3 Test CA"):
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.timezone.utc)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def issue(self, *names: str, days: float = 365, start_days_ago: float = 1,
              key: Optional[ec.EllipticCurvePrivateKey] = None) -> Issued:
        key = key or ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.timezone.utc)
        sans: list[x509.GeneralName] = []
        for n in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                sans.append(x509.DNSName(n))
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0] if names else "nameless")]))
            .issuer_name(self.cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=start_days_ago)).not_valid_after(now + dt.timedelta(days=days))
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        leaf = builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()
        return Issued(leaf + self.pem, _pem_key(key), leaf)


SITE_HOST = "pacs.test-site.example"  # the publicHost of tls_site()
SITE_CA = TestCA()


def tls_site(issued: Optional[Issued] = None, **tls) -> tuple[dict, set[str]]:
    """site_fixtures.BASE with the front door on: `issued` (a certificate of SITE_CA for
    SITE_HOST unless given) and `tls` (other o3:tls keys); the key is the secret o3:tlsKey."""
    issued = issued or SITE_CA.issue(SITE_HOST)
    cfg = copy.deepcopy(BASE)
    cfg["o3:site"]["publicHost"] = SITE_HOST
    cfg["o3:tls"] = {"enabled": True, "certificate": issued.cert_pem, **tls}
    cfg["o3:tlsKey"] = issued.key_pem
    return cfg, {"o3:tlsKey"}
