"""What a rule is: its name, enforcement level, what it checks and how to fix a violation (as
pulumi/compliance-policies' rules carry them), and a check over the platform-neutral site facts.
`policy()` makes it the pulumi-policy object the pack runs; docs/policy-rules.md is generated
from the same fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

from pulumi_policy import EnforcementLevel, PolicyConfigSchema, ResourceValidationPolicy, StackValidationPolicy

from sitespec.facts import SiteFacts

from ..platforms import extract

Report = Callable[..., None]  # report(message, urn=None)
Check = Callable[[SiteFacts, Report, dict[str, Any]], None]


@dataclass(frozen=True)
class Rule:
    name: str
    enforcement: EnforcementLevel
    description: str
    """What it checks, one sentence (the engine prints it above each violation)."""
    remediation: str
    """How to fix a violation, on either platform."""
    check: Check
    """check(site, report, config): report(message, urn) once per violation."""
    per_resource: bool = False
    """Checked on each resource as it is registered (the violation is attached to it), not on the stack."""
    config: Optional[dict[str, dict[str, Any]]] = None
    """Thresholds a --policy-pack-config may change: JSON-schema properties, each with its default."""

    def defaults(self) -> dict[str, Any]:
        return {k: v["default"] for k, v in (self.config or {}).items()}

    def policy(self) -> Union[StackValidationPolicy, ResourceValidationPolicy]:
        def validate(args: Any, report: Report) -> None:
            site = extract([args] if self.per_resource else args.resources)
            self.check(site, report, {**self.defaults(), **(args.get_config() or {})})

        kind = ResourceValidationPolicy if self.per_resource else StackValidationPolicy
        schema = {"config_schema": PolicyConfigSchema(properties=self.config)} if self.config else {}
        return kind(name=self.name, description=self.description, enforcement_level=self.enforcement,
                    validate=validate, **schema)
