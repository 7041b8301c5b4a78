"""A command's checks (preflight, verify): one line each, pass / warn / fail, measured value, fix."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Callable, Optional, Union

from sitespec.config import SiteConfig

PASS, WARN, FAIL = "pass", "warn", "fail"


@dataclass
class Check:
    name: str
    status: str
    measured: str
    fix: str = ""

    def line(self) -> str:
        text = f"{self.status.upper():4}  {self.name:<10} {self.measured}"
        return text + (f"\n            fix: {self.fix}" if self.fix and self.status != PASS else "")


def guarded(checks: list[Check], name: str, fn: Callable[[], Union[Check, list[Check], None]]) -> None:
    """Run one check into `checks`; a check that breaks is reported as such and the others still run."""
    try:
        got: Optional[Union[Check, list[Check]]] = fn()
    except Exception as e:  # noqa: BLE001 - one broken check must not hide the others
        got = Check(name, FAIL, f"could not check: {type(e).__name__}: {e}")
    if isinstance(got, list):
        checks.extend(got)
    elif got is not None:
        checks.append(got)


def report(checks: list[Check], cfg: SiteConfig, stack: str, what: str, ok: str, not_ok: str, as_json: bool) -> int:
    """Print the checks as a table (or JSON); 1 when any failed."""
    failed = any(c.status == FAIL for c in checks)
    if as_json:
        print(json.dumps({"site": cfg.site.name, "stack": stack, "ok": not failed,
                          "checks": [asdict(c) for c in checks]}, indent=2))
    else:
        where = (f"Kubernetes namespace {cfg.kubernetes.namespace or cfg.site.name}" if cfg.kubernetes
                 else cfg.docker_host or "the local Docker")
        print(f"{what} site {cfg.site.name} (stack {stack}) on {where}:")
        for c in checks:
            print("  " + c.line())
        print("result: " + (not_ok if failed else ok))
    return 1 if failed else 0
