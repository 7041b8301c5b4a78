"""No password or key in a command line, or in plain text where whoever reads a resource sees it.

The engine hands policies secrets already unwrapped, so the adapters find the site's secret
values where they must be (Docker: the DB password file, MYSQL_PWD, `password=` in connection
strings, the registry key; Kubernetes: the Secrets) and the rule looks for them, and for
password-looking flags, everywhere else: in command lines, in fields the engine does not keep
secret, in pod specs and ConfigMaps. A password-looking variable shown as a literal is refused too.
"""

import re
from typing import Any

from pulumi_policy import EnforcementLevel

from sitespec.facts import SECRET_NAME, SiteFacts

from ._rule import Report, Rule

PASSWORD_FLAG = re.compile(r"(?:^|\s)(?:-p\S+|--password=\S+)|password=[^;\s]+", re.I)
REMEDIATION = ("pass it through the environment or a file (see components/docker/schemas.py, "
               "components/docker/database.py), or on Kubernetes read it from the site's Secret.")


def check(site: SiteFacts, report: Report, cfg: dict[str, Any]) -> None:
    for w in site.workloads:
        for c in w.containers:
            if c.env is None or c.literals_shown_in is None:
                continue
            for name, literal in c.env.items():
                if literal is not None and (SECRET_NAME.search(name) or "CONNECTION_STRING" in name):
                    report(f"{w.name}: variable {name} is a literal in {c.literals_shown_in}. Fix: read it from the "
                           "site's Secret with valueFrom.secretKeyRef.", w.urn)
    shown = set()
    for t in site.texts:
        if not (any(s in t.text for s in site.secrets) or (t.password_flags and PASSWORD_FLAG.search(t.text))):
            continue
        if t.command:
            report(f"{t.owner}: {t.path} carries a password or key: command lines show up in `ps`, `docker inspect`, "
                   f"logs and error messages. Fix: {REMEDIATION}", t.urn)
        elif t.urn not in shown:  # one per resource: the first field says enough
            shown.add(t.urn)
            report(f"{t.owner}: {t.path} holds a password or key in plain text. Fix: {t.fix}", t.urn)


RULE = Rule(
    name="o3-no-plaintext-secrets",
    enforcement=EnforcementLevel.MANDATORY,
    description="No password or key in a command string, a healthcheck, a pod spec or a resource field that is not "
                "a secret.",
    remediation=REMEDIATION,
    check=check,
)
