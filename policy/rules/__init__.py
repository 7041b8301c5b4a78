"""The o3-site policy pack's rules, found by walking this package: one rule per module, as
`RULE = Rule(...)`; modules whose names start with `_` are helpers. A new rule is one new file
(and its test); a module here that holds no rule stops the pack with its name."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Iterable

from pulumi_policy import EnforcementLevel

from ._rule import Rule

PACK_NAME = "o3-site"


class NotARule(TypeError):
    """A module in policy/rules/ that holds no rule."""


def discover(path: Iterable[str] = __path__, package: str = __name__) -> dict[str, Rule]:
    """module name -> its rule, for every public module of the package, in name order."""
    found: dict[str, Rule] = {}
    for info in sorted(pkgutil.iter_modules(list(path)), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        rule = getattr(module, "RULE", None)
        if not isinstance(rule, Rule):
            raise NotARule(f"{module.__name__} holds no rule: a module in {package.replace('.', '/')}/ defines "
                           "RULE = Rule(...); name a helper module with a leading '_'")
        if rule.name in {r.name for r in found.values()}:
            raise NotARule(f"{module.__name__}: rule name {rule.name!r} is taken by another module")
        found[info.name] = rule
    return found


RULES = discover()
ALL = [r.policy() for r in RULES.values()]

LEVELS = {EnforcementLevel.MANDATORY: "mandatory", EnforcementLevel.ADVISORY: "advisory",
          EnforcementLevel.DISABLED: "disabled", EnforcementLevel.REMEDIATE: "remediate"}


def table(rules: Iterable[Rule]) -> str:
    """The rules as a Markdown table (docs/policy-rules.md)."""
    def cell(text: str) -> str:
        return " ".join(text.split()).replace("|", "\\|")

    lines = ["| rule | default | checks | remediation | config |", "|---|---|---|---|---|"]
    for r in sorted(rules, key=lambda r: r.name):
        config = ", ".join(f"`{k}` ({v['default']:g})" for k, v in (r.config or {}).items()) or "none"
        lines.append(f"| `{r.name}` | {LEVELS[r.enforcement]} | {cell(r.description)} | {cell(r.remediation)} | {config} |")
    return "\n".join(lines)
