"""Runs the real `__main__.py` on the Pulumi SDK's mock engine and records what it registers.

`evaluate(config)` returns every resource with its inputs (secrets still wrapped, so tests can
tell a secret from plain text), its resource options, and the stack outputs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

import pulumi
from pulumi.runtime import mocks as pmocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

ROOT = Path(__file__).resolve().parent.parent
MAIN = ROOT / "__main__.py"
PROJECT = "o3"


@dataclass
class Resource:
    type: str
    name: str
    urn: str
    custom: bool
    inputs: dict[str, Any]
    parent: str
    provider: str
    dependencies: list[str]
    delete_before_replace: bool
    protect: bool
    retain_on_delete: bool
    replace_on_changes: list[str]
    ignore_changes: list[str]
    additional_secret_outputs: list[str]
    id: str = ""
    aliases: list[str] = field(default_factory=list)
    """The URNs the resource may have had before (its `aliases`, resolved as the engine does)."""

    def plain(self, key: str) -> Any:
        """An input with secrets unwrapped."""
        return unwrap(self.inputs.get(key))


@dataclass
class Evaluation:
    resources: list[Resource]
    outputs: dict[str, Any]
    logs: list[tuple[int, str]] = field(default_factory=list)

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, **plain_inputs: Any) -> Resource:
        found = [
            r for r in self.of_type(type_) if all(r.plain(k) == v for k, v in plain_inputs.items())
        ]
        assert len(found) == 1, f"expected one {type_} with {plain_inputs}, found {len(found)}"
        return found[0]

    def container(self, name: str) -> Resource:
        return self.one("docker:index/container:Container", name=name)

    def command(self, suffix: str) -> Resource:
        """The local command whose resource name ends with `suffix` (-mkdir, -create, -dump)."""
        found = [r for r in self.of_type("command:local:Command") if r.name.endswith(suffix)]
        assert len(found) == 1, f"expected one command named *{suffix}, found {[r.name for r in found]}"
        return found[0]

    def by_urn(self, urn: str) -> Resource:
        return next(r for r in self.resources if r.urn == urn)

    def warnings(self) -> list[str]:
        return [m for lvl, m in self.logs if lvl == logging.WARNING]


def unwrap(value: Any) -> Any:
    if rpc.is_rpc_secret(value):
        return unwrap(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def changed(before: Evaluation, after: Evaluation) -> dict[str, set[str]]:
    """Custom resource name -> input fields that differ (minus the resource's ignore_changes)."""
    old = {r.name: r for r in before.resources}
    out = {}
    for r in after.resources:
        if not r.custom:  # components have no effect of their own
            continue
        o = old[r.name]
        fields = {k for k in set(o.inputs) | set(r.inputs) if unwrap(o.inputs.get(k)) != unwrap(r.inputs.get(k))}
        fields -= set(r.ignore_changes)
        if fields:
            out[r.name] = fields
    return out


def mock_image_id(ref: str) -> str:
    """The image id the mocks give a RemoteImage of `ref` (what containers then reference)."""
    return "sha256:" + hashlib.sha256(ref.encode()).hexdigest()


MOCK_PASSWORD = "MockGeneratedPassword0123456789ab"


class _Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        outputs = dict(args.inputs)
        if args.typ == "docker:index/remoteImage:RemoteImage":
            ref = unwrap(args.inputs["name"])
            outputs["imageId"] = mock_image_id(ref)
        elif args.typ == "random:index/randomPassword:RandomPassword":
            outputs["result"] = MOCK_PASSWORD
        # A changed resource gets a new id, as a replacement would: dependants that use the id
        # (e.g. the schema step's trigger on the db container) see the change too.
        digest = hashlib.sha256(json.dumps(unwrap(args.inputs), sort_keys=True, default=str).encode()).hexdigest()[:8]
        return f"{args.name}-{digest}", outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}, []


class _Recorder(pmocks.MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks):
        super().__init__(mocks)
        self.registered: list[Resource] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """As the engine makes it (the SDK's mock keeps only the parent's own type): the whole
        chain of parent types, so a renamed or moved component shows in its children's URNs."""
        return _urn(parent, type_, name, settings.get_stack(), settings.get_project())

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registered.append(
                Resource(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    custom=request.custom,
                    inputs=rpc.deserialize_properties(request.object, keep_unknowns=True),
                    parent=request.parent,
                    provider=request.provider,
                    dependencies=list(request.dependencies),
                    delete_before_replace=request.deleteBeforeReplace,
                    protect=request.protect,
                    retain_on_delete=request.retainOnDelete,
                    replace_on_changes=list(request.replaceOnChanges),
                    ignore_changes=list(request.ignoreChanges),
                    additional_secret_outputs=list(request.additionalSecretOutputs),
                    id=response.id,
                    aliases=[alias_urn(a, request) for a in request.aliases],
                )
            )
        return response


def alias_urn(alias, request) -> str:
    """An alias as a URN: a spec's missing parts are the resource's own (name, type, parent)."""
    if alias.urn:
        return alias.urn
    s = alias.spec
    parent = "" if s.noParent else (s.parentUrn or request.parent)
    return _urn(parent, s.type or request.type, s.name or request.name,
                s.stack or settings.get_stack(), s.project or settings.get_project())


def _urn(parent: str, type_: str, name: str, stack: str, project: str) -> str:
    parent_type = parent.split("::")[2] if parent else ""
    if parent_type and parent_type != "pulumi:pulumi:Stack":
        type_ = f"{parent_type}${type_}"
    return f"urn:pulumi:{stack}::{project}::{type_}::{name}"


class _ListHandler(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.levelno, record.getMessage()))


def stack_file_config(stack: str, secrets: Optional[dict[str, str]] = None, root: Path = ROOT) -> tuple[dict[str, Any], set[str]]:
    """Config of a shipped `Pulumi.<stack>.yaml` as the engine hands it to the program.

    `secure:` values cannot be decrypted without the CLI; `secrets` supplies stand-ins for them.
    """
    from ruamel.yaml import YAML

    from sitespec.stackfile import merge

    path = root / f"Pulumi.{stack}.yaml"  # a sample fleet's file, with the project's declarations
    cfg, secure = merge(YAML(typ="safe").load(path.read_text()), YAML(typ="safe").load((ROOT / "Pulumi.yaml").read_text()), path.name)
    for key in secure:
        cfg[key] = (secrets or {}).get(key, f"stand-in-secret-for-{key}")
    return cfg, secure


def evaluate(
    config: dict[str, Any],
    secret_keys: Iterable[str] = (),
    stack: str = "dev",
    preview: bool = False,
    program: Optional[Callable[[], None]] = None,
) -> Evaluation:
    """Run `__main__.py` with `config` (full keys, e.g. "o3:site"; objects as dicts) on the mock engine.

    Raises whatever the program raises (a RunError for an invalid config); resources registered before that are
    available as `last_run().resources` for tests that prove nothing was registered.
    """
    global _last
    monitor = _Recorder(_Mocks())
    handler = _ListHandler()
    logger = logging.getLogger(f"o3-mock-{id(monitor)}")
    logger.addHandler(handler)
    logger.propagate = False
    settings.set_root_resource(None)  # type: ignore[arg-type]
    pmocks.set_mocks(_Mocks(), project=PROJECT, stack=stack, preview=preview, logger=logger, monitor=monitor)
    # As the language host hands it over: PULUMI_CONFIG in the environment, then set_all_config.
    values = {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in config.items()}
    pulumi.runtime.set_all_config(values, list(secret_keys))
    _last = Evaluation(monitor.registered, {}, handler.records)
    root = settings.get_root_resource()

    def run_main():
        runpy.run_path(str(MAIN), run_name="__main__")

    saved = os.environ.get("PULUMI_CONFIG")
    os.environ["PULUMI_CONFIG"] = json.dumps(values)
    try:
        _sync_await(run_pulumi_func(program or run_main))
    finally:
        if saved is None:
            os.environ.pop("PULUMI_CONFIG", None)
        else:
            os.environ["PULUMI_CONFIG"] = saved
    # Serialised as the engine would receive them, so secret outputs stay wrapped.
    struct = _sync_await(rpc.serialize_properties(root.outputs, {}))
    _last.outputs = rpc.deserialize_properties(struct, keep_unknowns=True)
    return _last


_last: Optional[Evaluation] = None


def last_run() -> Evaluation:
    assert _last is not None
    return _last
