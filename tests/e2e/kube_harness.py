"""The pieces the Kubernetes end-to-end tests drive: the two-node test cluster (tests/kube/), the
stand-in images on its nodes, kubectl, and a probe that counts failed requests through a Service.

Nothing here imitates Kubernetes: the cluster runs kube-apiserver, the controller manager, the
scheduler, and per node containerd, a kubelet and kube-proxy, built from Go modules
(tests/kube/NOTES.md). Its nodes report the size of a hospital's nodes (NOTES.md, "Node
capacity"): the vendor's minimums cannot fit this machine's 2 cores, and requests are only
reservations; the stand-in apps use little of them.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

from e2e_harness import REPOS, ROOT, Project, release_context

KUBE = ROOT / "tests" / "kube"
REGISTRY = "registry.o3.test"  # the stand-ins' references: loaded onto the nodes, never pulled
KUBE_VERSIONS = {"db": ("8.0.34", "8.0.35"), "pacs": ("2.8.1", "2.8.2"), "view": ("3.4.2",), "proxy": ("1.28.0",)}
STORAGE_CLASS = "o3-nas"  # the test cluster's ReadWriteMany class (a folder both nodes see)


def cluster(*args: str, check: bool = True, timeout: int = 900, input: Optional[str] = None) -> subprocess.CompletedProcess:
    out = subprocess.run([str(KUBE / "cluster.sh"), *args], capture_output=True, text=True, timeout=timeout, input=input)
    if check and out.returncode != 0:
        raise RuntimeError(f"tests/kube/cluster.sh {' '.join(args)} exited {out.returncode}:\n{out.stderr[-3000:]}")
    return out


def kubectl(*args: str, check: bool = True, timeout: int = 300) -> str:
    return cluster("kubectl", *args, check=check, timeout=timeout).stdout


def kube_json(*args: str) -> Any:
    return json.loads(kubectl(*args, "-o", "json"))


def image_ref(component: str, version: str) -> str:
    return f"{REGISTRY}/{REPOS[component]}:{version}"


def load_standins(client, docker_host: str, standins: dict[str, str], work: Path) -> dict[tuple[str, str], str]:
    """One image per component and version, built on the test daemon from the stand-ins and
    imported into both nodes' containerd."""
    refs = {}
    for comp, versions in KUBE_VERSIONS.items():
        for v in versions:
            ref = image_ref(comp, v)
            ctx = release_context(standins[comp if comp in ("db", "proxy") else "app"], v)
            # A label of their own: else they are the Docker-host scenarios' releases, which those
            # remove by image id (with every tag) while these may still be needed (.ci/run runs both).
            client.images.build(fileobj=io.BytesIO(ctx), custom_context=True, tag=ref, rm=True, network_mode="none",
                                labels={"org.o3.test.cluster": "1"})
            refs[(comp, v)] = ref
    tar = work / "standins.tar"  # one tarball: the layers the versions share are saved once
    subprocess.run(["docker", "save", "-o", str(tar), *refs.values()], check=True, capture_output=True,
                   env={**os.environ, "DOCKER_HOST": docker_host})
    cluster("load-image", str(tar), timeout=1200)
    tar.unlink()
    return refs


def pods(namespace: str, role: str) -> list[dict[str, Any]]:
    """The role's pods that are not on their way out."""
    items = kube_json("get", "pods", "-n", namespace, "-l", f"app.kubernetes.io/name={role}")["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def service_ip(namespace: str, name: str) -> str:
    return kube_json("get", "service", "-n", namespace, name)["spec"]["clusterIP"]


def get_json(url: str, timeout: float = 5) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def https_get(address: str, port: int, hostname: str, cafile: str, timeout: float = 60) -> tuple[dict[str, str], dict]:
    """GET / over TLS from `address`, checking the certificate against `hostname` and `cafile`:
    (headers, JSON body); retried while the front door starts."""
    import http.client
    import ssl

    ctx = ssl.create_default_context(cafile=cafile)
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = http.client.HTTPSConnection(address, port, context=ctx, timeout=5)
            conn.sock = ctx.wrap_socket(socket.create_connection((address, port), timeout=5),
                                        server_hostname=hostname)
            conn.request("GET", "/", headers={"Host": hostname})
            r = conn.getresponse()
            return dict(r.getheaders()), json.loads(r.read())
        except (OSError, ssl.SSLError, ValueError):
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def wait_answer(url: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return get_json(url)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


@dataclass
class ServiceProbe:
    """GET `url` every `interval` seconds in a thread: counts what answered and what failed."""

    url: str
    interval: float = 0.1
    ok: int = 0
    failed: list[str] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        self.recent: list[str] = []
        self.run = self.longest_run = 0  # failed requests in a row: now, and the most
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            t = time.monotonic()
            try:
                v = get_json(self.url, timeout=2).get("version", "?")
                self.ok += 1
                self.versions[v] = self.versions.get(v, 0) + 1
                self.recent.append(v)
                self.run = 0
            except Exception as e:  # noqa: BLE001 - every failure counts, whatever it is
                self.failed.append(f"{time.strftime('%H:%M:%S')} {type(e).__name__}: {e}")
                self.run += 1
                self.longest_run = max(self.longest_run, self.run)
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - t)))

    def until(self, version: str, timeout: float = 60) -> None:
        """Keep probing until the Service has answered with `version` 20 times in a row (the old pods
        drained), or `timeout`: what happens after `up` returns counts too."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._latest(20) != {version}:
            time.sleep(0.2)

    def _latest(self, n: int) -> set[str]:
        return set(self.recent[-n:]) if len(self.recent) >= n else set()

    def __enter__(self) -> "ServiceProbe":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)


def kube_stack_config(name: str, kubeconfig: str, refs: dict[tuple[str, str], str], **site: Any) -> dict[str, Any]:
    """A Kubernetes site of the tests: 10 users (6 cores, 12 GB requested in all), the first
    release of each component, its namespace named after it."""
    return {
        "o3:platform": "kubernetes",
        "kubernetes:kubeconfig": kubeconfig,
        "o3:site": {"name": name, "timezone": "Europe/Rome", "concurrentUsers": 10, "examsPerDay": 100, **site},
        "o3:images": {c: refs[(c, KUBE_VERSIONS[c][0])] for c in ("db", "pacs", "view")},
        "o3:kubernetes": {"storageClass": STORAGE_CLASS, "storageGb": 50, "namespace": name},
        "o3:database": {"waitTimeoutSeconds": 240},
    }


def mysql(namespace: str, sql: str, password: str) -> str:
    """SQL in the db pod, the password by environment (never on the command line)."""
    return kubectl("exec", "-n", namespace, "statefulset/db", "--", "sh", "-c",
                   f"MYSQL_PWD=$(cat /etc/o3-db-root-password) mysql -uroot -N -e {json.dumps(sql)}")


def new_workdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def env_without_kube() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}


def ops_command(command: str, stack: str, folder: Path, *args: str) -> tuple[int, dict[str, dict]]:
    """An ops command (verify, preflight) on a stack, with --json: (exit code, checks by name)."""
    out = subprocess.run([sys.executable, "-m", f"ops.{command}", *args, "--stack", stack, "--dir", str(folder), "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert "Traceback" not in out.stderr, out.stderr
    return out.returncode, {c["name"]: c for c in json.loads(out.stdout)["checks"]}


def node_socket(node: str) -> str:
    """A node's containerd socket (tests/kube/cluster.sh `sock`)."""
    return f"{os.environ.get('O3_KUBE_STATE', '/var/lib/o3-kube')}/{node}/containerd.sock"


def running_containers(node: str, namespace: str, name: str) -> list[str]:
    """The ground truth: the ids of the containers called `name` (of pods in `namespace`) whose task
    the node's containerd runs now; none when the node is off (its containerd is gone)."""
    sock = node_socket(node)
    ctr = ["ctr", "-a", sock, "-n", "k8s.io"]
    try:
        # one filter, its conditions joined by commas (AND); separate filters would be ORed
        ids = subprocess.run([*ctr, "containers", "ls", "-q", f'labels."io.kubernetes.container.name"=={name},'
                              f'labels."io.kubernetes.pod.namespace"=={namespace}'],
                             capture_output=True, text=True, timeout=10)
        tasks = subprocess.run([*ctr, "tasks", "ls"], capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        return []
    if ids.returncode or tasks.returncode:
        if not os.path.exists(sock) or "connection refused" in ids.stderr + tasks.stderr or "no such file" in ids.stderr:
            return []
        raise RuntimeError(f"ctr on {node}: {ids.stderr or tasks.stderr}")
    wanted = set(ids.stdout.split())
    return [line.split()[0] for line in tasks.stdout.splitlines()[1:]
            if line.split() and line.split()[0] in wanted and line.split()[-1] == "RUNNING"]


@dataclass
class ContainerCensus:
    """Counts, in a thread, the running containers called `name` on every node's containerd: the
    most seen at once, and each sample (time, per node)."""

    namespace: str
    name: str
    nodes: tuple[str, ...] = ("node1", "node2")
    interval: float = 0.3
    most: int = 0
    samples: list[tuple[float, dict[str, int]]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def now(self) -> dict[str, int]:
        return {n: len(running_containers(n, self.namespace, self.name)) for n in self.nodes}

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                seen = self.now()
            except Exception as e:  # noqa: BLE001 - reported by the test
                self.errors.append(str(e))
                seen = {}
            self.samples.append((time.monotonic(), seen))
            self.most = max(self.most, sum(seen.values()))
            self._stop.wait(self.interval)

    def __enter__(self) -> "ContainerCensus":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(30)


@contextlib.contextmanager
def kube_site(name: str, pulumi_env: dict[str, str], kubeconfig: str, refs: dict[tuple[str, str], str], password: str,
              **kubernetes: Any) -> Iterator[Project]:
    """A site's project (kube_stack_config, o3:kubernetes keys updated by `kubernetes`) in a fresh
    namespace named after it; destroyed, with its namespace, afterwards."""
    kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=true", timeout=600)
    work = new_workdir(f"o3-e2e-{name}-")
    project = Project(work, name, pulumi_env, secrets=[password])
    project.refs = refs
    config = kube_stack_config(name, kubeconfig, refs)
    config["o3:kubernetes"].update(kubernetes)
    project.init(config, {"o3:dbPassword": password})
    try:
        yield project
    finally:
        project.destroy(check=False)
        project.remove()
        kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=true", check=False, timeout=600)
        shutil.rmtree(work, ignore_errors=True)
