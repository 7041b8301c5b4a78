"""A deployed site as the commands see it: its Docker host (local or ssh://) and its containers."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence
from urllib.parse import urlparse

from sitespec.config import SiteConfig
from sitespec.guide import MAINTENANCE_CONTAINER, MAINTENANCE_SCRIPT

from ._cli import OpsError

# The ssh wrapper the program's steps use (a shell script, read as data: no component is imported).
SSH_PRELUDE = Path(__file__).resolve().parent.parent / "components" / "scripts" / "ssh-prelude.sh"


def real_ssh() -> Optional[str]:
    """The system ssh client, skipping the wrappers use_ssh_opts (and the steps' prelude) put on PATH."""
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if "/o3-ssh-" not in d]
    return shutil.which("ssh", path=os.pathsep.join(dirs))


def use_ssh_opts(ssh_opts: Sequence[str]) -> None:
    """Put an `ssh` that adds docker:sshOpts first on this process's PATH: docker-py's ssh://
    transport runs the system `ssh` and takes no options. The wrapper is written by the steps'
    own components/scripts/ssh-prelude.sh (one wrapper for both), into a folder removed at exit."""
    if not ssh_opts:
        return
    folder = Path(tempfile.mkdtemp(prefix="o3-ssh-"))
    atexit.register(shutil.rmtree, folder, True)
    env = {**os.environ, "O3_SSH_OPTS": "\n".join(ssh_opts), "O3_SSH_DIR": str(folder)}
    out = subprocess.run(["/bin/sh", "-c", SSH_PRELUDE.read_text()], env=env, capture_output=True, text=True)
    if out.returncode != 0 or not (folder / "ssh").is_file():
        raise OpsError(out.stderr.strip().removeprefix("o3: ") or f"could not write the ssh wrapper into {folder}")
    os.environ["PATH"] = f"{folder}:{os.environ.get('PATH', '')}"


# What ssh says, and what the operator should do about it.
SSH_PROBLEMS = (
    (("REMOTE HOST IDENTIFICATION HAS CHANGED",),
     "the host's SSH key has CHANGED since it was recorded: this can be an attack. Check with the host's "
     "administrator before you replace its line in your known_hosts file"),
    (("Host key verification failed", "No ED25519 host key is known", "No RSA host key is known",
      "No ECDSA host key is known", "host key is not known"),
     "the host's SSH key is not in your known_hosts file. Get its fingerprint from the host's administrator, "
     "then add it (ssh-keyscan -H HOST >> ~/.ssh/known_hosts, or the file named by UserKnownHostsFile in "
     "docker:sshOpts) after comparing"),
    (("Permission denied",),
     "the host refused the SSH key: give the deploy key for this user (ssh-agent, ~/.ssh/config, or "
     "\"-i\", \"/path/key\" in docker:sshOpts) and check it is in the user's authorized_keys on the host"),
    (("Could not resolve hostname",),
     "the host name does not resolve: check docker:host and DNS"),
    (("Connection refused",),
     "nothing answers on the SSH port: is sshd running on the host, and is the port in docker:host right?"),
    (("timed out", "No route to host", "Network is unreachable"),
     "the host cannot be reached over the network: check the address in docker:host, VPN and firewalls"),
    (("docker: command not found", "docker: not found", "command not found"),
     "ssh works, but the docker CLI is not installed for that user on the host"),
    (("permission denied while trying to connect to the Docker daemon",),
     "ssh works, but that user may not use Docker on the host: add it to the docker group there"),
)


def explain_ssh(text: str) -> Optional[str]:
    for needles, advice in SSH_PROBLEMS:
        if any(n in text for n in needles):
            return advice
    return None


def ssh_probe(docker_host: str, timeout: int = 15) -> None:
    """Reach an ssh:// Docker host the way docker will, and say precisely why not when it fails."""
    if not real_ssh():
        raise OpsError(f"docker:host is {docker_host}, but there is no `ssh` client on this machine: "
                       "install it (Debian/Ubuntu: apt-get install openssh-client)")
    u = urlparse(docker_host)
    cmd = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={timeout}"]
    if u.port:
        cmd += ["-p", str(u.port)]
    if u.username:
        cmd += ["-l", u.username]
    cmd += ["--", u.hostname or "", "docker version --format '{{.Server.Version}}'"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 15, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise OpsError(f"cannot reach {docker_host} over SSH: no answer within {timeout + 15} s; "
                       "the host cannot be reached over the network: check the address, VPN and firewalls") from None
    if out.returncode != 0:
        said = " ".join(out.stderr.split())[-400:]
        advice = explain_ssh(out.stderr) or "see what ssh said"
        raise OpsError(f"cannot use Docker on {docker_host} over SSH: {advice}. (ssh said: {said})")


def connect(docker_host: Optional[str], ssh_opts: Sequence[str] = (), timeout: int = 60):
    """A Docker client for the site's host. ssh:// goes through the system `ssh` client, like the
    docker CLI and the Pulumi docker provider do, with the same docker:sshOpts."""
    import docker

    if docker_host and docker_host.startswith("ssh://"):
        use_ssh_opts(ssh_opts)
        ssh_probe(docker_host)
        return docker.DockerClient(base_url=docker_host, use_ssh_client=True, timeout=timeout)
    if docker_host:
        return docker.DockerClient(base_url=docker_host, timeout=timeout)
    return docker.from_env(timeout=timeout)


@dataclass
class Exec:
    code: int
    out: str
    err: str


class DeployedSite:
    """A deployed site on its Docker host: its containers, and commands run in them."""

    def __init__(self, cfg: SiteConfig, client: Any):
        self.cfg = cfg
        self.client = client

    @property
    def where(self) -> str:
        return self.cfg.docker_host or "the local Docker"

    def container(self, name: str):
        import docker

        try:
            return self.client.containers.get(name)
        except docker.errors.NotFound:
            return None

    def maintenance(self):
        c = self.container(MAINTENANCE_CONTAINER)
        if c is None:
            raise OpsError(f"site {self.cfg.site.name} has no {MAINTENANCE_CONTAINER} container on {self.where}: "
                           "apply the current program first (`pulumi up`), which adds it")
        if c.status != "running":
            raise OpsError(f"{MAINTENANCE_CONTAINER} on {self.where} is {c.status}, not running: "
                           f"`docker start {MAINTENANCE_CONTAINER}` on the host, or `pulumi up`")
        return c

    def exec(self, container, cmd: list[str]) -> Exec:
        """Run `cmd` in a container of the site. Over ssh:// this goes through the docker CLI:
        docker-py's ssh transport loses about one exec in five (BrokenPipeError when it closes a
        finished exec's stream, docker/docker-py#3218), and a dump or a restore must neither be
        lost nor run twice."""
        if (self.cfg.docker_host or "").startswith("ssh://"):
            if not shutil.which("docker"):
                raise OpsError("docker:host is ssh://, and commands in the site's containers go through the docker "
                               "CLI: install it on this machine (Debian/Ubuntu: apt-get install docker.io)")
            out = subprocess.run(["docker", "-H", self.cfg.docker_host, "exec", container.name, *cmd],
                                 capture_output=True, text=True, stdin=subprocess.DEVNULL)
            return Exec(out.returncode, out.stdout.strip(), out.stderr.strip())
        code, (out, err) = container.exec_run(cmd, demux=True)
        return Exec(code, (out or b"").decode(errors="replace").strip(), (err or b"").decode(errors="replace").strip())

    def run_maintenance(self, *args: str) -> Exec:
        return self.exec(self.maintenance(), ["/bin/sh", MAINTENANCE_SCRIPT, *args])


def open_site(cfg: SiteConfig) -> DeployedSite:
    try:
        client = connect(cfg.docker_host, cfg.ssh_opts)
        client.ping()
    except OpsError:
        raise
    except Exception as e:  # noqa: BLE001 - the daemon's or ssh's own words say what is wrong
        raise OpsError(f"cannot reach the Docker daemon of site {cfg.site.name} at "
                       f"{cfg.docker_host or 'the local socket'}: {e}") from None
    return DeployedSite(cfg, client)


@contextmanager
def apps_stopped(site: DeployedSite, apps: Sequence[str], prog: str) -> Iterator[None]:
    """Docker: the site's running `apps` stopped, and started again whatever happens."""
    running = []
    try:
        for app in apps:
            c = site.container(app)
            if c is not None and c.status == "running":
                c.stop(timeout=30)
                running.append(c)
        print(f"{prog}: stopped {', '.join(c.name for c in running) or 'no running app'}")
        yield
    finally:
        for c in running:
            c.start()
        if running:
            print(f"{prog}: started {', '.join(c.name for c in running)} again")
