"""Fence a lost node of a Kubernetes site, so that db and the singleton start on another node.

    python -m ops.fence NODE --stack S [--yes] [--timeout SECONDS] [--dir D]

A pod on a node that stopped answering is never replaced by its StatefulSet (db, pacs-singleton):
Kubernetes cannot know whether its containers still run, and two MySQLs on one volume would
destroy it. Once the operator confirms that the node is powered off (the command asks, or takes
--yes), it applies Kubernetes' `node.kubernetes.io/out-of-service=nodeshutdown:NoExecute` taint
(non-graceful node shutdown): the node's pods are deleted, their volumes detached, and they start
on another node. The command waits until db and the singleton run elsewhere and `ops.verify` has
no failed check, and prints the time taken. It refuses a node that is Ready. Remove the taint once
the node is repaired (the command prints how). Exit 1 when the site does not recover in time,
2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from sitespec.guide import DB_CONTAINER, SINGLETON_CONTAINER
from sitespec.stackfile import load_stack_config

from ._checks import FAIL, Check
from ._cli import OpsError, add_dir_argument, positive_int, run
from ._cluster import DeployedKubeSite, cluster_access, ready

TAINT = {"key": "node.kubernetes.io/out-of-service", "value": "nodeshutdown", "effect": "NoExecute"}
POLL = 2.0


def read_node(core: Any, name: str) -> Any:
    from kubernetes.client.exceptions import ApiException

    try:
        return core.read_node(name)
    except ApiException as e:
        if e.status != 404:
            raise
    names = sorted(n.metadata.name for n in core.list_node().items)
    raise OpsError(f"no node {name} in the cluster (its nodes: {', '.join(names) or 'none'})")


def confirm(node: str, pods: list[str]) -> bool:
    if not sys.stdin.isatty():
        raise OpsError("fencing needs a confirmation that the node is powered off: run it in a terminal, "
                       "or pass --yes (scripts)")
    print(f"Node {node} holds {', '.join(pods) or 'none of the site pods'}. Its pods will be deleted and started "
          "on another node: if the node still runs them, two MySQLs would write one volume.")
    return input(f"Is {node} powered off? Type its name ({node}) to go on: ").strip() == node


def where(site: Any, role: str) -> set[str]:
    """The nodes on which the role's pods run and are ready (terminating ones excluded)."""
    return {p.spec.node_name for p in site.pods(role)
            if p.status.phase == "Running" and any(c.ready for c in p.status.container_statuses or [])}


def fence(site: Any, node: str, yes: bool, timeout: float, checks: Callable[[], list[Check]],
          ask: Callable[[str, list[str]], bool] = confirm) -> int:
    n = read_node(site.core, node)
    if ready(n):
        raise OpsError(f"node {node} is Ready: fence only a node that is powered off (to empty a working node, "
                       f"`kubectl drain {node} --ignore-daemonsets --delete-emptydir-data`)")
    on_it = sorted(p.metadata.name for p in site.core.list_namespaced_pod(
        site.namespace, field_selector=f"spec.nodeName={node}").items)
    if not yes and not ask(node, on_it):
        print("fence: nothing done")
        return 1
    taints = [t.to_dict() if hasattr(t, "to_dict") else dict(t) for t in n.spec.taints or []]
    if not any(t.get("key") == TAINT["key"] for t in taints):
        site.core.patch_node(node, {"spec": {"taints": [*taints, TAINT]}})
    start = time.monotonic()
    print(f"fence: {node} tainted {TAINT['key']}={TAINT['value']}:{TAINT['effect']}; waiting for "
          f"{', '.join(on_it) or 'the site'} to run elsewhere")
    roles = [SINGLETON_CONTAINER] + ([] if site.cfg.kubernetes.database.external_host else [DB_CONTAINER])
    failed: list[Check] = []
    while time.monotonic() - start < timeout:
        placed = {r: where(site, r) for r in roles}
        if all(nodes and node not in nodes for nodes in placed.values()):
            failed = [c for c in checks() if c.status == FAIL]
            if not failed:
                took = time.monotonic() - start
                print(f"fence: site {site.cfg.site.name} recovered in {took:.0f} s: "
                      + ", ".join(f"{r} on {', '.join(sorted(placed[r]))}" for r in roles) + "; ops.verify green")
                print(f"fence: once {node} is repaired, before it rejoins: "
                      f"`kubectl taint nodes {node} {TAINT['key']}-`")
                return 0
        time.sleep(POLL)
    said = "; ".join(f"{c.name}: {c.measured}" for c in failed) or \
        ", ".join(f"{r} not yet running elsewhere" for r in roles if not (where(site, r) - {node}))
    print(f"fence: site {site.cfg.site.name} did not recover within {timeout:.0f} s ({said}); "
          f"`kubectl -n {site.namespace} get pods -o wide`", file=sys.stderr)
    return 1


def verify_checks(stack: str, root: Path) -> list[Check]:
    """`ops.verify --json` of the stack, as its checks (one command does not import another)."""
    out = subprocess.run([sys.executable, "-m", "ops.verify", "--stack", stack, "--dir", str(root), "--json"],
                         capture_output=True, text=True, timeout=300)
    try:
        found = json.loads(out.stdout)["checks"]
    except (ValueError, KeyError, TypeError):
        return [Check("verify", FAIL, (out.stderr or out.stdout).strip()[-300:] or f"exit {out.returncode}")]
    return [Check(c["name"], c["status"], c.get("measured", "")) for c in found]


def _main(argv: Optional[Sequence[str]]) -> int:
    p = argparse.ArgumentParser(prog="python -m ops.fence", description=__doc__.split("\n\n")[0])
    p.add_argument("node", metavar="NODE", help="the lost node's name (`kubectl get nodes`)")
    p.add_argument("--stack", required=True, help="site stack (Pulumi.<stack>.yaml)")
    p.add_argument("--yes", action="store_true", help="the node is powered off: do not ask (for scripts)")
    p.add_argument("--timeout", type=positive_int, default=900, help="seconds to wait for the site (default 900)")
    add_dir_argument(p)
    args = p.parse_args(argv)
    cfg = load_stack_config(args.stack, args.dir)
    if cfg.platform != "kubernetes":
        raise OpsError(f"site {cfg.site.name} runs on {cfg.platform} (o3:platform): fencing is for a node of a "
                       "Kubernetes site")
    access = cluster_access(args.stack, args.dir)
    site = DeployedKubeSite(cfg, access)
    return fence(site, args.node, args.yes, args.timeout, lambda: verify_checks(args.stack, args.dir))


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run(_main, "fence", argv)


if __name__ == "__main__":
    sys.exit(main())
