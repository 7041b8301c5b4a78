"""A Kubernetes site as the commands see it: the cluster (the stack's `kubernetes:kubeconfig` and
`kubernetes:context`, as the Pulumi provider reads them, else KUBECONFIG), the site's namespace,
its workloads, and commands and HTTP requests through the API server, so that the commands work
from wherever `pulumi up` works, without reaching the pods' network."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import yaml

from sitespec.config import SiteConfig
from sitespec.stackfile import read_raw

from ._cli import OpsError


@dataclass(frozen=True)
class ClusterAccess:
    kubeconfig: Optional[str]
    """A path or the kubeconfig's own text (kubernetes:kubeconfig); None: KUBECONFIG or ~/.kube/config."""
    context: Optional[str]


def cluster_access(stack: str, root: Path) -> ClusterAccess:
    raw, _ = read_raw(stack, root)
    return ClusterAccess(raw.get("kubernetes:kubeconfig") or None, raw.get("kubernetes:context") or None)


def api_client(access: ClusterAccess):
    """A kubernetes ApiClient for the stack's cluster."""
    from kubernetes import config as kconfig

    try:
        text = access.kubeconfig
        if text and ("\n" in text or text.lstrip().startswith(("{", "apiVersion"))):
            return kconfig.new_client_from_config_dict(yaml.safe_load(text), context=access.context)
        path = text or os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
        if not Path(path).expanduser().is_file():
            raise OpsError(f"no kubeconfig at {path}: set kubernetes:kubeconfig in the stack (a path or the "
                           "file's content) or KUBECONFIG")
        return kconfig.new_client_from_config(config_file=str(Path(path).expanduser()), context=access.context)
    except OpsError:
        raise
    except Exception as e:  # noqa: BLE001 - the client's own words say what is wrong
        raise OpsError(f"cannot read the cluster's kubeconfig: {e}") from None


class DeployedKubeSite:
    """A Kubernetes site: its namespace and the API groups the checks read."""

    def __init__(self, cfg: SiteConfig, access: ClusterAccess):
        from kubernetes import client

        assert cfg.kubernetes is not None
        self.cfg = cfg
        self.namespace = cfg.kubernetes.namespace or cfg.site.name
        self.api = api_client(access)
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.batch = client.BatchV1Api(self.api)
        try:
            self.version = client.VersionApi(self.api).get_code().git_version
        except Exception as e:  # noqa: BLE001
            raise OpsError(f"cannot reach the Kubernetes API of site {cfg.site.name}: {e}") from None

    @property
    def where(self) -> str:
        return f"namespace {self.namespace}"

    def workload(self, kind: str, name: str) -> Optional[Any]:
        from kubernetes.client.exceptions import ApiException

        read = self.apps.read_namespaced_stateful_set if kind == "StatefulSet" else self.apps.read_namespaced_deployment
        try:
            return read(name, self.namespace)
        except ApiException as e:
            if e.status == 404:
                return None
            raise

    def pods(self, role: str) -> list[Any]:
        items = self.core.list_namespaced_pod(self.namespace, label_selector=f"app.kubernetes.io/name={role}").items
        return [p for p in items if p.metadata.deletion_timestamp is None]

    def exec(self, pod: str, command: list[str]) -> str:
        """A command in a pod (through the API server); its output."""
        from kubernetes.stream import stream

        return stream(self.core.connect_get_namespaced_pod_exec, pod, self.namespace, command=command,
                      stderr=True, stdin=False, stdout=True, tty=False)

    def get(self, service: str, port: int, path: str = "") -> str:
        """GET / of a Service's port through the API server's service proxy."""
        return self.core.connect_get_namespaced_service_proxy_with_path(f"{service}:{port}", self.namespace,
                                                                         path or "/", _request_timeout=15)
