"""The Pulumi components of one O3 site, per platform, one module per part of the vendor guide:
`components/docker/` (one Docker host) and `components/kubernetes/` (a cluster), side by side.

Only components (and the shell scripts both platforms run, in `scripts/`) live here; what a site
*is* lives in `sitespec`. Below: the small helpers every component shares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional

import pulumi
import pulumi_random as random

from sitespec.config import SiteConfig
from sitespec.guide import (
    GENERATED_PASSWORD_LENGTH,
    GENERATED_PASSWORD_SPECIAL,
    PACS_CONTAINER,
    PACS_HTTP_PORT,
    PROXY_PACS_PORT,
    PROXY_VIEW_PORT,
    SCHEMAS,
    VIEW_CONTAINER,
    VIEW_HTTP_PORT,
)

TYPE_PREFIX = "o3:index:"


def script(name: str) -> str:
    return (Path(__file__).parent / "scripts" / name).read_text()


SSH_PRELUDE = script("ssh-prelude.sh")
# The one dump script: o3-maintenance runs it, and the pre-upgrade backup runs its dump.
MAINTENANCE_SH = script("maintenance.sh")

# --- the schema step, on both platforms -----------------------------------------------------------
# One script: Docker runs it through `docker exec` into `db` (O3_DB_CONTAINER), Kubernetes in a Job
# on the db image against the Service `db` (O3_DB_HOST).
SCHEMA_SCRIPT = "create-schemas.sh"
SCHEMA_RETRY_DELAY_SECONDS = 2


def schema_env(retries: int) -> dict[str, str]:
    """What the schema script reads on either platform (the password, MYSQL_PWD, aside)."""
    return {"O3_SCHEMAS": " ".join(SCHEMAS), "O3_RETRIES": str(retries),
            "O3_RETRY_DELAY": str(SCHEMA_RETRY_DELAY_SECONDS)}


# --- what a site is made from, on both platforms --------------------------------------------------
@dataclass(frozen=True)
class CommonSiteArgs:
    """What one site is made from, on either platform."""

    config: SiteConfig
    """The site's validated stack config (`__main__.py` reads it with sitespec.config.parse())."""
    db_password: Optional[pulumi.Output[str]] = None
    """MySQL password (o3:dbPassword) as a secret Output; None: one is generated and kept in state."""
    registry_key: Optional[pulumi.Output[str]] = None
    """The registry's JSON key (o3:registryKey) as a secret Output; None: no login (no pull Secret)."""
    tls_key: Optional[pulumi.Output[str]] = None
    """The certificate's private key (o3:tlsKey) as a secret Output; required when o3:tls.enabled."""
    offsite_secrets: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    """The site's own o3:offsite secrets by key (offsitePassword, offsiteHttpPassword, offsiteSshKey), secret Outputs; never the operator's."""


def db_password(name: str, given: Optional[pulumi.Output[str]], site: pulumi.Resource) -> pulumi.Output[str]:
    """o3:dbPassword, or one generated once and kept in state. MySQL keeps the first password it was
    initialised with (README), so a generated one is protected: a plain `pulumi destroy` is refused
    before anything is deleted, and `destroy --exclude-protected` keeps it for the next `up`."""
    if given is not None:
        return given
    generated = random.RandomPassword(f"{name}-db-password", length=GENERATED_PASSWORD_LENGTH,
                                      special=GENERATED_PASSWORD_SPECIAL,
                                      opts=pulumi.ResourceOptions(parent=site, protect=True))
    return pulumi.Output.secret(generated.result)


# --- the HTTPS front door's nginx (o3-proxy, o3:tls), on both platforms -------------------------
CONF_PATH = "/etc/nginx/conf.d/default.conf"  # the official image's only server file: replaced
CERT_PATH = "/etc/nginx/tls/site.crt"
KEY_PATH = "/etc/nginx/tls/site.key"

_SERVER = """server {{
    listen {port} ssl;
    server_name _;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;
    ssl_prefer_server_ciphers off;
    ssl_session_cache shared:o3tls:10m;
    ssl_session_tickets off;
    add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;
    client_max_body_size 0;
    proxy_read_timeout 600s;
    proxy_send_timeout 600s;
{upstream_lookup}    location / {{
        proxy_pass {proxy_pass};
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto https;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $o3_connection;
    }}
}}
"""


# On Docker nginx asks Docker's resolver per request: a replaced app container gets a new address.
# On Kubernetes the apps are Services, whose address never changes: resolved once, at start.
_DOCKER_LOOKUP = """    # Docker's resolver, per request: a replaced app container gets a new address.
    resolver 127.0.0.11 valid=10s ipv6=off;
    set $o3_upstream http://{upstream};
"""


def nginx_conf(kubernetes: bool = False) -> str:
    """The HTTPS front door's nginx server config: VIEW and the PACS web port behind TLS 1.2/1.3."""
    head = "map $http_upgrade $o3_connection {\n    default upgrade;\n    '' close;\n}\n"
    return head + "".join(
        _SERVER.format(port=port, cert=CERT_PATH, key=KEY_PATH,
                       upstream_lookup="" if kubernetes else _DOCKER_LOOKUP.format(upstream=upstream),
                       proxy_pass=f"http://{upstream}" if kubernetes else "$o3_upstream")
        for port, upstream in ((PROXY_VIEW_PORT, f"{VIEW_CONTAINER}:{VIEW_HTTP_PORT}"),
                               (PROXY_PACS_PORT, f"{PACS_CONTAINER}:{PACS_HTTP_PORT}"))
    )
