"""The secret keys: how to set each, and their checks. pydantic never sees a secret's value before
these checks pass, so no message echoes it."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Json, TypeAdapter, ValidationError

from .. import tls
from .fields import PROJECT

# The secret keys and how to set each.
SECRET_KEYS = {
    "dbPassword": "pulumi config set --secret o3:dbPassword <password>",
    "registryKey": "cat key.json | pulumi config set --secret o3:registryKey",
    "tlsKey": "cat site.key | pulumi config set --secret o3:tlsKey",
    "offsitePassword": "pulumi config set --secret o3:offsitePassword <password>",
    "offsiteHttpPassword": "pulumi config set --secret o3:offsiteHttpPassword <password>",
    "offsiteSshKey": "cat offsite_key | pulumi config set --secret o3:offsiteSshKey",
    "offsiteOperatorHttpPassword": "pulumi config set --secret o3:offsiteOperatorHttpPassword <password>",
    "offsiteOperatorSshKey": "cat operator_key | pulumi config set --secret o3:offsiteOperatorSshKey",
}
# Safe inside the guide's `;`-separated JDBC strings, an env var and a shell variable.
_PASSWORD = re.compile(r"^[A-Za-z0-9_.@%+:,~^!#*-]{12,128}$")
_JSON_OBJECT = TypeAdapter(Json[dict[str, Any]])


def is_registry_key(text: str) -> bool:
    """Whether `text` looks like the registry's JSON key file (an object), for config and preflight."""
    try:
        _JSON_OBJECT.validate_python(text)
    except ValidationError:
        return False
    return True


def check_secret(key: str, value: Any, is_secret: bool) -> list[str]:
    """One line per problem with the secret `key` (o3:dbPassword, ...); never its value."""
    how = SECRET_KEYS[key]
    if not isinstance(value, str) or not value:
        return [f"{PROJECT}:{key}: must be a non-empty string; set it with `{how}`"]
    problems = []
    if not is_secret:
        problems.append(f"{PROJECT}:{key}: is stored in plain text; remove it and set it again with `{how}`")
    if key == "dbPassword" and not _PASSWORD.match(value):
        problems.append(
            f"{PROJECT}:dbPassword: must be 12-128 characters of letters, digits and _ . @ % + : , ~ ^ ! # * - "
            "(it goes into the vendor's ';'-separated connection strings); omit it to have one generated"
        )
    if key == "tlsKey":
        try:
            tls.public_key_of(value)
        except tls.TlsProblem as e:
            problems.append(f"{PROJECT}:tlsKey: {e}; set it with `{how}`")
    if key == "offsitePassword" and len(value) < 16:
        problems.append(f"{PROJECT}:offsitePassword: must be at least 16 characters (it encrypts every off-host copy)")
    if key in ("offsiteSshKey", "offsiteOperatorSshKey") and "PRIVATE KEY-----" not in value:
        problems.append(f"{PROJECT}:{key}: is not an SSH private key (PEM); set it with `{how}`")
    if key == "registryKey" and not is_registry_key(value):
        problems.append(f"{PROJECT}:registryKey: is not the JSON key file's content; set it with `{how}`")
    return problems
