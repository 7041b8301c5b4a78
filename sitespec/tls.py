"""The site's TLS certificate and key, checked before anything is deployed.

A key that does not belong to the certificate, an expired (or not yet valid) certificate, or one
whose names do not cover the host users type is refused; an expiry within `EXPIRY_WARNING_DAYS`
only warns. Messages never contain the key.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from typing import Optional

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

EXPIRY_WARNING_DAYS = 30


@dataclass(frozen=True)
class Certificate:
    """The leaf of a PEM chain, as far as the site cares."""

    subject: str
    names: tuple[str, ...]  # DNS names and IP addresses it is valid for
    not_before: dt.datetime
    not_after: dt.datetime
    public_key: bytes  # DER SubjectPublicKeyInfo

    def days_left(self, now: Optional[dt.datetime] = None) -> float:
        return (self.not_after - (now or dt.datetime.now(dt.timezone.utc))).total_seconds() / 86400

    def covers(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = None
        for name in self.names:
            if ip is not None:
                if name == str(ip):
                    return True
            elif name == host or (name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]):
                return True
        return False


class TlsProblem(ValueError):
    pass


def parse_certificate(pem: str) -> Certificate:
    """The first certificate of a PEM chain; TlsProblem when there is none or it is unreadable."""
    try:
        certs = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise TlsProblem("is not a PEM certificate (-----BEGIN CERTIFICATE----- ...)") from None
    leaf = certs[0]
    names: list[str] = []
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names += [n.lower() for n in san.get_values_for_type(x509.DNSName)]
        names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        pass
    cn = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    subject = str(cn[0].value) if cn else leaf.subject.rfc4514_string()
    return Certificate(
        subject=subject,
        names=tuple(names),
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        public_key=leaf.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
    )


def public_key_of(key_pem: str) -> bytes:
    """DER public key of an unencrypted PEM private key; TlsProblem (never echoing it) otherwise."""
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError):
        raise TlsProblem("is not an unencrypted PEM private key (-----BEGIN PRIVATE KEY----- ...)") from None
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def problems(cert: Certificate, key_public: Optional[bytes], host: str,
             now: Optional[dt.datetime] = None) -> tuple[list[str], list[str]]:
    """(errors, warnings) about a certificate used for `host`."""
    now = now or dt.datetime.now(dt.timezone.utc)
    errors, warnings = [], []
    if key_public is not None and key_public != cert.public_key:
        errors.append("o3:tlsKey: does not belong to o3:tls.certificate (their public keys differ); "
                      "set the key that was issued with this certificate")
    if cert.not_after <= now:
        errors.append(f"o3:tls.certificate: expired on {cert.not_after:%Y-%m-%d}; renew it and set the new one")
    elif cert.days_left(now) < EXPIRY_WARNING_DAYS:
        warnings.append(f"o3:tls.certificate: expires on {cert.not_after:%Y-%m-%d} "
                        f"({cert.days_left(now):.0f} days left); renew it soon (README: Renew the certificate)")
    if cert.not_before > now:
        errors.append(f"o3:tls.certificate: not valid before {cert.not_before:%Y-%m-%d %H:%M} UTC; check the host's clock "
                      "or use a certificate that is valid now")
    if not cert.covers(host):
        names = ", ".join(cert.names) or "none (no subjectAltName)"
        errors.append(f"o3:tls.certificate: is not valid for '{host}' (o3:site.publicHost); it covers {names}. "
                      "Use a certificate whose subjectAltName names that host, or set o3:site.publicHost to one of them")
    return errors, warnings
