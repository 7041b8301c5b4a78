"""Feeds resources to the o3-site policy pack through pulumi-policy's own analyzer servicer,
the way the engine does in `pulumi preview --policy-pack policy` (props as a protobuf Struct
with secrets wrapped, camelCase, numbers as floats; options; per-policy config)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional

from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2 as pb
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer

from engine import Resource
from policy.rules import ALL, PACK_NAME

LEVELS = {pb.ADVISORY: "advisory", pb.MANDATORY: "mandatory", pb.DISABLED: "disabled", pb.REMEDIATE: "remediate"}
LEVEL_IN = {"advisory": pb.ADVISORY, "mandatory": pb.MANDATORY, "disabled": pb.DISABLED}


@dataclass
class Violation:
    policy: str
    level: str
    message: str
    urn: str


def _struct(props: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    json_format.ParseDict(props, s)
    return s


def resource(type_: str, name: str, props: dict[str, Any], *, protect: bool = False,
             secret_outputs: Iterable[str] = (), provider: str = "") -> Resource:
    """A synthetic registered resource (fixture factory for rule tests)."""
    return Resource(
        type=type_, name=name, urn=f"urn:pulumi:test::o3::{type_}::{name}", custom=True, inputs=props,
        parent="", provider=provider, dependencies=[], delete_before_replace=False, protect=protect,
        retain_on_delete=False, replace_on_changes=[], ignore_changes=[],
        additional_secret_outputs=list(secret_outputs),
    )


def analyze(resources: list[Resource], config: Optional[dict[str, Any]] = None) -> list[Violation]:
    """Run every resource and stack policy of the pack; `config` is --policy-pack-config's JSON."""
    servicer = _PolicyAnalyzerServicer(PACK_NAME, "0.0.1", ALL, EnforcementLevel.MANDATORY)
    if config:
        pc = {}
        for name, value in config.items():
            if isinstance(value, str):
                pc[name] = pb.PolicyConfig(enforcementLevel=LEVEL_IN[value])
            else:
                value = dict(value)
                level = value.pop("enforcementLevel", None)
                kw = {"properties": _struct(value)}
                if level:
                    kw["enforcementLevel"] = LEVEL_IN[level]
                pc[name] = pb.PolicyConfig(**kw)
        servicer.Configure(pb.ConfigureAnalyzerRequest(policyConfig=pc), None)

    custom = [r for r in resources if r.custom]
    providers = {r.urn: r for r in custom if r.type.startswith("pulumi:providers:")}

    def opts(r: Resource) -> pb.AnalyzerResourceOptions:
        return pb.AnalyzerResourceOptions(
            protect=r.protect, ignoreChanges=r.ignore_changes, deleteBeforeReplace=r.delete_before_replace,
            deleteBeforeReplaceDefined=r.delete_before_replace, additionalSecretOutputs=r.additional_secret_outputs,
            parent=r.parent,
        )

    def provider(r: Resource) -> Optional[pb.AnalyzerProviderResource]:
        p = providers.get(r.provider.rsplit("::", 1)[0]) if r.provider else None  # ref = "<urn>::<id>"
        if p is None:
            return None
        return pb.AnalyzerProviderResource(type=p.type, properties=_struct(p.inputs), urn=p.urn, name=p.name)

    diagnostics = []
    for r in custom:
        kw = {"provider": provider(r)} if provider(r) else {}
        resp = servicer.Analyze(pb.AnalyzeRequest(type=r.type, properties=_struct(r.inputs), urn=r.urn, name=r.name,
                                                  options=opts(r), **kw), None)
        diagnostics += resp.diagnostics
    stack = [
        pb.AnalyzerResource(type=r.type, properties=_struct(r.inputs), urn=r.urn, name=r.name, options=opts(r),
                            parent=r.parent, dependencies=r.dependencies)
        for r in custom
    ]
    diagnostics += servicer.AnalyzeStack(pb.AnalyzeStackRequest(resources=stack), None).diagnostics
    return [Violation(d.policyName, LEVELS[d.enforcementLevel], d.message, d.urn) for d in diagnostics]


def by_policy(violations: list[Violation]) -> dict[str, list[Violation]]:
    out: dict[str, list[Violation]] = {}
    for v in violations:
        out.setdefault(v.policy, []).append(v)
    return out
