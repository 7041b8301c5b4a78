"""Not in the vendor guide: the site's namespace locked down (docs/kubernetes.md, "A locked-down
namespace").

- **Pod Security.** The namespace enforces the `baseline` level and warns and audits against
  `restricted`. `restricted` needs every container to run as a user other than root, and the
  guide's images do not promise that: MySQL's official image starts as root, takes its data
  folder (chown) and steps down to the user mysql; nginx's starts as root to bind 443 and runs
  its workers as nginx. `baseline` refuses what matters on a shared cluster (privileged pods, the
  host's namespaces and folders, capabilities beyond the container runtime's defaults).
- **Every pod** runs with no privilege escalation, RuntimeDefault seccomp, every capability
  dropped but the few its image needs to start (CAPABILITIES), and no service-account token:
  nothing in the site talks to the Kubernetes API.
- **NetworkPolicy.** Nothing reaches a pod of the site and no pod of the site reaches anything,
  but what is allowed below: DNS (port 53, anywhere: a node-local cache is not in kube-system);
  MySQL only from the pods labelled DB_CLIENT (the apps, the dump and schema Jobs, the
  CronJob); the apps' own ports and the front door's from anywhere (the public Services keep the
  client's address, the API server's service proxy, which ops.verify asks, and the kubelet's
  probes come from nodes, which no pod selector names); the apps' egress stays open (the PACS
  sends DICOM to modalities and archives the hospital configures in the PACS, not here); the
  front door reaches pacs and view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import ipaddress

import pulumi
import pulumi_kubernetes as k8s

from sitespec.containers import DB, PACS, SINGLETON, VIEW
from sitespec.guide import DB_CONTAINER, MYSQL_PORT, PROXY_CONTAINER, PROXY_PACS_PORT, PROXY_VIEW_PORT

from .. import TYPE_PREFIX
from . import labels, selector

POD_SECURITY = {"enforce": "baseline", "warn": "restricted", "audit": "restricted"}
"""The namespace's Pod Security Standards (pod-security.kubernetes.io/<mode>: <level>)."""
DB_CLIENT = "o3/db-client"
"""The label (value "true") of the pods that may reach MySQL."""
OFFSITE_ROLE = "offsite"
"""The off-host backup's pods (o3:offsite): MySQL (DB_CLIENT) and the repository's host and port."""
PRE_UPGRADE_ROLE = "backup"
"""The pre-upgrade Job's pods: MySQL, and with o3:offsite the repository too (they send the dump)."""

# What each pod's image needs back of the dropped capabilities, and why (the rest run with none).
CAPABILITIES: Mapping[str, tuple[str, ...]] = {
    # mysql's entrypoint (and the stand-in's) owns the data folder as root, then steps down to mysql;
    # on a first start it stops its temporary server (user mysql) by a signal (measured: without
    # KILL the stand-in's first start fails once, "kill: Operation not permitted").
    DB_CONTAINER: ("CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "SETGID", "SETUID"),
    # nginx's master binds 443 as root and runs its workers as the user nginx, owning its temp folders;
    # it opens its log files, which the image may give to that user (measured: Debian's nginx stops
    # with "open() /var/log/nginx/error.log failed (13: Permission denied)" without DAC_OVERRIDE).
    PROXY_CONTAINER: ("CHOWN", "DAC_OVERRIDE", "NET_BIND_SERVICE", "SETGID", "SETUID"),
    # the off-host copy's restic (root in its image) reads every file of the storage folders, whoever wrote them
    "restic": ("DAC_OVERRIDE",),
}


def pod_security() -> dict[str, str]:
    """The namespace's labels for POD_SECURITY."""
    return {f"pod-security.kubernetes.io/{mode}": level for mode, level in POD_SECURITY.items()}


def container_security(role: str) -> dict[str, Any]:
    """A container's securityContext: no privilege escalation, every capability dropped but the
    role's CAPABILITIES, the runtime's default seccomp profile."""
    caps: dict[str, Any] = {"drop": ["ALL"]}
    if CAPABILITIES.get(role):
        caps["add"] = list(CAPABILITIES[role])
    return {"allowPrivilegeEscalation": False, "privileged": False, "capabilities": caps}


def pod_security_spec() -> dict[str, Any]:
    """What every pod spec of the site carries (merge it into the spec): RuntimeDefault seccomp
    and no service-account token."""
    return {"automountServiceAccountToken": False, "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}}


def db_client(pod_labels: Mapping[str, str]) -> dict[str, str]:
    """A pod's labels with DB_CLIENT: NetworkPolicy lets it reach MySQL."""
    return {**pod_labels, DB_CLIENT: "true"}


@dataclass(frozen=True)
class KubeNetworkPoliciesArgs:
    """What the site's NetworkPolicies are made from."""

    site: str
    """o3:site.name, in the objects' labels and the pods' selectors."""
    namespace: pulumi.Input[str]
    """The site's namespace."""
    external_db: Optional[tuple[str, int]]
    """o3:kubernetes.database.externalHost and .externalPort; None: MySQL runs in the namespace."""
    tls: bool
    """Whether the HTTPS front door (o3-proxy) runs."""
    offsite: Optional[tuple[str, int]] = None
    """The restic repository's (host, port) when o3:offsite is set: the off-host backup's pod reaches it."""


def _ports(numbers: Sequence[int], protocol: str = "TCP") -> list[dict[str, Any]]:
    return [{"port": n, "protocol": protocol} for n in numbers]


def _egress_to(host: str, port: int) -> dict[str, Any]:
    """An egress rule to host:port; NetworkPolicy knows no names, so for a host name the port only."""
    try:
        return {"to": [{"ipBlock": {"cidr": str(ipaddress.ip_network(host))}}], "ports": _ports([port])}
    except ValueError:
        return {"ports": _ports([port])}


def policy_specs(site: str, external_db: Optional[tuple[str, int]], tls: bool,
                 offsite: Optional[tuple[str, int]] = None) -> dict[str, dict[str, Any]]:
    """Each NetworkPolicy's spec by name (plain data: the tests read it too). `offsite`: the
    restic repository's (host, port), which the off-host backup's pod reaches."""
    role = lambda name: {"matchLabels": selector(site, name)}  # noqa: E731
    specs: dict[str, dict[str, Any]] = {
        # Every pod of the namespace: nothing in, nothing out, but what the policies below allow.
        "o3-default-deny": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        "o3-dns": {"podSelector": {}, "policyTypes": ["Egress"],
                   "egress": [{"ports": _ports([53], "UDP") + _ports([53])}]},
    }
    clients = {"matchLabels": {DB_CLIENT: "true", "o3.site": site}}
    if external_db is None:
        specs["o3-db"] = {"podSelector": role(DB_CONTAINER), "policyTypes": ["Ingress"],
                          "ingress": [{"from": [{"podSelector": clients}], "ports": _ports([MYSQL_PORT])}]}
        to: dict[str, Any] = {"to": [{"podSelector": role(DB_CONTAINER)}], "ports": _ports([MYSQL_PORT])}
    else:
        to = _egress_to(*external_db)
    specs["o3-db-clients"] = {"podSelector": clients, "policyTypes": ["Egress"], "egress": [to]}
    for c in (PACS, SINGLETON, VIEW):
        spec: dict[str, Any] = {"podSelector": role(c.name), "policyTypes": ["Ingress", "Egress"], "egress": [{}]}
        if c.ports:
            spec["ingress"] = [{"ports": _ports([p.number for p in c.ports])}]
        specs[f"o3-{c.name}"] = spec
    if tls:
        specs[f"o3-{PROXY_CONTAINER}"] = {
            "podSelector": role(PROXY_CONTAINER), "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"ports": _ports([PROXY_VIEW_PORT, PROXY_PACS_PORT])}],
            "egress": [{"to": [{"podSelector": role(PACS.name)}], "ports": _ports([p.number for p in PACS.ports if p.http])},
                       {"to": [{"podSelector": role(VIEW.name)}], "ports": _ports([p.number for p in VIEW.ports])}]}
    if offsite is not None:  # the CronJob's pods, and the pre-upgrade Job's, which sends its dump too
        senders = {"matchLabels": {"o3.site": site}, "matchExpressions": [
            {"key": "app.kubernetes.io/name", "operator": "In", "values": [OFFSITE_ROLE, PRE_UPGRADE_ROLE]}]}
        specs[f"o3-{OFFSITE_ROLE}"] = {"podSelector": senders, "policyTypes": ["Egress"], "egress": [_egress_to(*offsite)]}
    assert DB.ports[0].number == MYSQL_PORT
    return specs


class KubeNetworkPolicies(pulumi.ComponentResource):
    """The site's NetworkPolicies (policy_specs)."""

    def __init__(self, name: str, args: KubeNetworkPoliciesArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(f"{TYPE_PREFIX}KubeNetworkPolicies", name, {}, opts)
        for policy, spec in policy_specs(args.site, args.external_db, args.tls, args.offsite).items():
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy}",
                metadata={"name": policy, "namespace": args.namespace, "labels": labels(args.site, "network-policy")},
                spec=spec, opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({})


# --- the Jobs and the CronJob: requests, and a deadline, so that a hung one ends -------------------
JOB_RESOURCES = {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "512Mi"}}
"""A dump or schema pod's requests: the mysql client, mysqldump and gzip stream; the server does the work."""
PRE_UPGRADE_DEADLINE_SECONDS = 3 * 3600
"""The pre-upgrade dump ends after 3 h at the latest (the upgrade then stops, as for a failed dump)."""
NIGHTLY_DEADLINE_SECONDS = 20 * 3600
"""A nightly run ends after 20 h at the latest, so the next night's runs (concurrencyPolicy Forbid
would skip it while one still runs); ops.backup and ops.restore run Jobs of the same template."""


def schema_deadline_seconds(retries: int, delay: int) -> int:
    """The schema Job's deadline: its attempts while MySQL starts, and 10 min more."""
    return retries * delay + 600


def job_container(role: str) -> dict[str, Any]:
    """What a Job's container adds: JOB_RESOURCES and its securityContext."""
    return {"resources": JOB_RESOURCES, "securityContext": container_security(role)}
