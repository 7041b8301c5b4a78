"""A Kubernetes site as the commands see it: the cluster (the stack's `kubernetes:kubeconfig` and
`kubernetes:context`, as the Pulumi provider reads them, else KUBECONFIG), the site's namespace,
its workloads, and commands and HTTP requests through the API server, so that the commands work
from wherever `pulumi up` works, without reaching the pods' network."""

from __future__ import annotations

import os
import posixpath
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional, Sequence

import yaml

from sitespec.config import SiteConfig
from sitespec.guide import DB_CONTAINER, MAINTENANCE_CONTAINER, MAINTENANCE_SCRIPT, SINGLETON_CONTAINER
from sitespec.stackfile import read_raw

from ._cli import OpsError
from ._site import Exec


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


def ready(obj: Any) -> bool:
    """A node or a pod whose Ready condition is True."""
    return any(c.type == "Ready" and c.status == "True" for c in obj.status.conditions or [])


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

    def pods(self, role: str, terminating: bool = False) -> list[Any]:
        """The role's pods; with `terminating`, also those on their way out (their containers may
        still run: a grace period, or a node that stopped answering)."""
        items = self.core.list_namespaced_pod(self.namespace, label_selector=f"app.kubernetes.io/name={role}").items
        return [p for p in items if terminating or p.metadata.deletion_timestamp is None]

    def db_pod(self) -> Optional[str]:
        """The db pod a query can go to: running, and Ready (a pod on a node that stopped answering
        stays Running; only the node controller's Ready=False says a command would hang there)."""
        pods = [p for p in self.pods(DB_CONTAINER) if p.status.phase == "Running" and ready(p)]
        return pods[0].metadata.name if pods else None

    @staticmethod
    def kind(name: str) -> str:
        """db and pacs-singleton are StatefulSets (at most one pod each), pacs and view Deployments."""
        return "StatefulSet" if name in (DB_CONTAINER, SINGLETON_CONTAINER) else "Deployment"

    def replicas(self, name: str) -> int:
        return self.workload(self.kind(name), name).spec.replicas

    def exec(self, pod: str, command: list[str], timeout: float = 60) -> str:
        """A command in a pod (through the API server); its output. The client sets no timeout on
        the websocket's opening, so a pod on a node whose kubelet hangs would hold the caller
        forever: the call runs in a daemon thread the command gives up on after `timeout`."""
        from kubernetes.stream import stream

        result: dict[str, Any] = {}

        def call() -> None:
            try:
                result["out"] = stream(self.core.connect_get_namespaced_pod_exec, pod, self.namespace,
                                       command=command, stderr=True, stdin=False, stdout=True, tty=False,
                                       _request_timeout=timeout)
            except Exception as e:  # noqa: BLE001 - handed to the caller's thread below
                result["error"] = e

        worker = threading.Thread(target=call, daemon=True)
        worker.start()
        worker.join(timeout * 1.1)
        if worker.is_alive():
            raise OpsError(f"pod {pod} in {self.where} did not answer a command within {timeout:.0f} s "
                           f"(is its node's kubelet answering? `kubectl -n {self.namespace} get pod {pod} -o wide`)")
        if "error" in result:
            raise result["error"]
        return result["out"]

    def get(self, service: str, port: int, path: str = "") -> str:
        """GET / of a Service's port through the API server's service proxy."""
        return self.core.connect_get_namespaced_service_proxy_with_path(f"{service}:{port}", self.namespace,
                                                                         path or "/", _request_timeout=15)

    # --- the dump script, and stopping the apps (ops.backup, ops.restore) ----------------------

    def run_maintenance(self, *args: str, timeout: float = 3600) -> Exec:
        """The site's dump script (maintenance.sh ARGS) in a Job made from the nightly CronJob's
        template: the same image, Secret, volume and scripts. Its log is its output."""

        def edit(spec: Any) -> None:
            # The scripts' ConfigMap is mounted where o3-maintenance has them; kube-dump.sh's `run` waits
            # until MySQL answers this new pod (a NetworkPolicy controller may not know its address yet).
            spec.template.spec.containers[0].command = [
                "sh", posixpath.join(posixpath.dirname(MAINTENANCE_SCRIPT), "kube-dump.sh"), "run", *args]

        return self.run_job(MAINTENANCE_CONTAINER, f"o3-{args[0]}", edit, timeout)

    def run_job(self, cron_name: str, prefix: str, edit: Callable[[Any], None], timeout: float = 3600) -> Exec:
        """A Job made from the CronJob `cron_name`'s template, changed by `edit(job spec)`; waits
        for it, and returns its log (its last pod's, first container's) as the output."""
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        try:
            cron = self.batch.read_namespaced_cron_job(cron_name, self.namespace)
        except ApiException as e:
            if e.status == 404:
                raise OpsError(f"site {self.cfg.site.name} has no CronJob {cron_name} in {self.where}: "
                               "apply the current program first (`pulumi up`)") from None
            raise
        spec = cron.spec.job_template.spec
        edit(spec)
        name = f"{prefix}-{secrets.token_hex(3)}"
        job = client.V1Job(metadata=client.V1ObjectMeta(name=name, labels={"o3.site": self.cfg.site.name}), spec=spec)
        self.batch.create_namespaced_job(self.namespace, job)
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                st = self.batch.read_namespaced_job_status(name, self.namespace).status
                if st.succeeded or st.failed:
                    break
                time.sleep(1)
            else:
                raise OpsError(f"the Job {name} in {self.where} did not finish within {timeout:.0f} s")
            pods = self.core.list_namespaced_pod(self.namespace, label_selector=f"job-name={name}").items
            container = spec.template.spec.containers[0].name
            out = self.core.read_namespaced_pod_log(pods[-1].metadata.name, self.namespace,
                                                    container=container) if pods else ""
            return Exec(0 if st.succeeded else 1, out.strip(), "" if st.succeeded else out.strip())
        finally:
            self.batch.delete_namespaced_job(name, self.namespace, propagation_policy="Background")

    def scale(self, name: str, replicas: int, timeout: float = 300) -> None:
        """Scale a Deployment or StatefulSet and wait until that many pods of it run (none, or all ready)."""
        stateful = self.kind(name) == "StatefulSet"
        patch = self.apps.patch_namespaced_stateful_set_scale if stateful else self.apps.patch_namespaced_deployment_scale
        patch(name, self.namespace, {"spec": {"replicas": replicas}})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            d = self.workload(self.kind(name), name)
            pods = self.pods(name, terminating=True)
            if (replicas == 0 and not pods) or (replicas and (d.status.ready_replicas or 0) >= replicas):
                return
            time.sleep(1)
        raise OpsError(f"{self.kind(name).lower()}/{name} in {self.where} did not reach {replicas} replicas within {timeout:.0f} s")


@contextmanager
def scaled_to_zero(site: DeployedKubeSite, apps: Sequence[str], prog: str) -> Iterator[None]:
    """The apps' workloads scaled to 0, and back to their replicas whatever happens."""
    replicas = {app: site.replicas(app) for app in apps}
    try:
        for app in apps:
            site.scale(app, 0)
        print(f"{prog}: scaled {', '.join(apps)} to 0")
        yield
    finally:
        for app, n in replicas.items():
            site.scale(app, n)
        print(f"{prog}: scaled them back to " + ", ".join(f"{a} {n}" for a, n in replicas.items()))
