"""No password or key in a command string, a healthcheck test, or a prop that is not kept secret.

The engine hands policies secrets already unwrapped, so the rule finds the site's secret values
where they must be (the DB password file, MYSQL_PWD, `password=` in connection strings, the
registry key) and then looks for them, and for password-looking flags, everywhere else. On
Kubernetes they must be in Secrets only: a secret value, or a password-looking variable with a
literal value, anywhere in a pod spec or a ConfigMap is refused.
"""

import base64
import json
import re
from collections.abc import Mapping
from typing import Any, Callable

from pulumi_policy import EnforcementLevel, StackValidationPolicy

from . import _kube
from .common import COMMAND, CONTAINER, env_map, known, strings

SECRET_ENV = re.compile(r"(PASSWORD|PASSWD|PWD|SECRET|TOKEN|_KEY)$", re.I)
PASSWORD_FLAG = re.compile(r"(?:^|\s)(?:-p\S+|--password=\S+)|password=[^;\s]+", re.I)
MIN_SECRET_LEN = 6  # shorter strings are too common to be evidence


def _registry_passwords(props: dict) -> list[str]:
    auth = known(props, "registryAuth", [])
    if isinstance(auth, str):  # provider config may arrive JSON-encoded
        try:
            auth = json.loads(auth)
        except json.JSONDecodeError:
            return []
    return [pw for a in auth if isinstance(a, Mapping) and (pw := known(a, "password"))]


def secret_values(resources) -> set[str]:
    found: set[str] = set()
    for r in resources:
        p = r.props
        if r.resource_type == CONTAINER:
            uploads = known(p, "uploads", [])
            for up in range(len(uploads)):
                item = known(uploads, up, {})
                content = known(item, "content")
                if "password" in str(known(item, "file", "")).lower() and content:
                    found.add(content)
            for k, v in (env_map(r) or {}).items():
                if SECRET_ENV.search(k) and v and not k.endswith("_FILE"):
                    found.add(v)
                found.update(m.group(1) for m in re.finditer(r"password=([^;]+)", v))
        elif r.resource_type == COMMAND:
            env = known(p, "environment", {})
            for k in list(env):
                v = known(env, k)
                if SECRET_ENV.search(k) and isinstance(v, str) and v:
                    found.add(v)
        elif r.resource_type.startswith("pulumi:providers:"):
            found.update(_registry_passwords(p))
        elif r.resource_type == _kube.SECRET:
            found.update(_kube_secret_values(p))
    return {s for s in found if isinstance(s, str) and len(s) >= MIN_SECRET_LEN}


def _kube_secret_values(props: Any) -> set[str]:
    """A Secret's values (stringData as given, data decoded), and the passwords inside them
    (`password=` of a connection string, a pull Secret's registry password)."""
    values: set[str] = set()
    for k, v in strings(known(props, "stringData", {})):
        values.add(v)
    for k, v in strings(known(props, "data", {})):
        try:
            values.add(base64.b64decode(v).decode())
        except ValueError:
            continue
    inner = set()
    for v in values:
        inner.update(m.group(1) for m in re.finditer(r"password=([^;]+)", v))
        try:
            auths = json.loads(v).get("auths", {})
        except (ValueError, AttributeError):
            continue
        inner.update(a.get("password", "") for a in auths.values() if isinstance(a, dict))
    return values | inner


def validate_kube(resources: Any, secrets: set[str], report: Callable) -> None:
    """Secret values live in Secrets: never in a pod spec (env literals, commands, annotations)
    or a ConfigMap; a password-looking variable is read by secretKeyRef, not written out."""
    for r in resources:
        if r.resource_type in _kube.WORKLOADS:
            (w,) = _kube.workloads([r])
            for c in _kube.containers(w):
                for name, entry in _kube.env_of(c).items():
                    literal = known(entry, "value")
                    if literal is not None and (SECRET_ENV.search(name) or "CONNECTION_STRING" in name):
                        report(f"{w.name}: variable {name} is a literal in the pod spec (`kubectl get -o yaml` "
                               "shows it to anyone who may read the workload). Fix: read it from the site's Secret "
                               "with valueFrom.secretKeyRef.", r.urn)
        if r.resource_type == _kube.SECRET:
            continue
        if not str(r.resource_type).startswith("kubernetes:"):
            continue
        for path, text in strings(r.props):
            if any(s in text for s in secrets) or (r.resource_type in _kube.WORKLOADS and PASSWORD_FLAG.search(text)):
                report(f"{_kube.metadata_name(r) or r.name}: {path} holds a password or key in plain text. Fix: keep "
                       "it in the site's Secret and read it with secretKeyRef or a secret volume.", r.urn)
                break


def command_strings(r) -> list[tuple[str, str]]:
    p = r.props
    if r.resource_type == COMMAND:
        return [(k, v) for k in ("create", "update", "delete", "read") if isinstance(v := known(p, k), str)]
    if r.resource_type == CONTAINER:
        out = [(f"command{path}", s) for path, s in strings(known(p, "command", []))]
        out += [(f"entrypoints{path}", s) for path, s in strings(known(p, "entrypoints", []))]
        out += [(f"healthcheck.tests{path}", s) for path, s in strings(known(known(p, "healthcheck", {}), "tests", []))]
        return out
    return []


def validate(args: Any, report: Callable) -> None:
    secrets = secret_values(args.resources)
    if _kube.is_kubernetes(args.resources):
        validate_kube(args.resources, secrets, report)
    for r in args.resources:
        cmd_fields = {f for f, _ in command_strings(r)}
        for field, text in command_strings(r):
            if any(s in text for s in secrets) or PASSWORD_FLAG.search(text):
                report(f"{r.name}: {field} carries a password or key: command lines show up in `ps`, "
                       "`docker inspect`, logs and error messages. Fix: pass it through the environment "
                       "or a file (see components/docker/schemas.py, components/docker/database.py).", r.urn)
        kept_secret = set(r.opts.additional_secret_outputs or []) if r.opts else set()
        for top in list(r.props):
            if top in kept_secret:
                continue
            for path, text in strings(known(r.props, top, ""), top):
                if path.split(".")[0].split("[")[0] in cmd_fields or path in cmd_fields:
                    continue
                if any(s in text for s in secrets):
                    report(f"{r.name}: {path} holds a secret in a field that is not kept secret. "
                           f"Fix: add '{top}' to the resource's additional_secret_outputs and pass the value "
                           "as a Pulumi secret.", r.urn)
                    break


POLICY = StackValidationPolicy(
    name="o3-no-plaintext-secrets",
    description="No password or key in a command string, a healthcheck or a resource field that is not a secret.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate,
)
