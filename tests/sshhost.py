"""A remote site host made by the tests: a network namespace behind a veth pair with private
addresses, running its own sshd (key-only, a host key the test pins in a known_hosts file) and
its own dockerd, with private /run and /srv so that what it creates is not on this machine.

Traffic stays on the veth pair: every address used is in its /24, and `up()` checks that the
kernel routes it through the veth before anything connects.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

from ops._site import real_ssh

LAUNCHER = r"""
set -eu
# `ip netns exec` mounted a sysfs of the namespace: put the cgroup hierarchies back for dockerd.
if [ "$CGROUPS" = v2 ]; then
  mount -t cgroup2 cgroup2 /sys/fs/cgroup
else
  mount -t tmpfs -o mode=0755 cgroup /sys/fs/cgroup
  for opts in $CGROUPS; do
    dir=${opts#name=}; mkdir -p "/sys/fs/cgroup/$dir"; mount -t cgroup -o "$opts" cgroup "/sys/fs/cgroup/$dir"
  done
fi
mount -t tmpfs -o mode=0755 o3-remote-run /run
mount -t tmpfs -o mode=0755,size=100g o3-remote-srv /srv  # its own disk: 100 GB, used only as written
mkdir -p /run/sshd
dockerd --data-root "$DATA_ROOT" --exec-root /run/docker --pidfile /run/docker.pid \
  -H unix:///var/run/docker.sock >"$WORK/dockerd.log" 2>&1 &
/usr/sbin/sshd -D -f "$WORK/sshd_config" -E "$WORK/sshd.log" &
wait
"""


def cgroups() -> str:
    """'v2', or the cgroup v1 hierarchies of this machine as mount options ('cpu', 'name=systemd', ...)."""
    v1 = []
    for line in Path("/proc/mounts").read_text().splitlines():
        dev, mnt, fstype, opts, *_ = line.split()
        if fstype == "cgroup2" and mnt == "/sys/fs/cgroup":
            return "v2"
        if fstype == "cgroup":
            wanted = [o for o in opts.split(",") if o not in ("rw", "ro", "relatime", "nosuid", "nodev", "noexec")]
            v1.append(",".join(wanted))
    return " ".join(v1)


def _run(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kw)


def add_namespace(ns: str, host_if: str, ns_if: str, gateway: str, address: str, *others: str) -> None:
    """A network namespace behind a veth pair: `gateway` on this side, `address` inside (a /24),
    a default route back; checks that the kernel routes `address` and `others` through the veth."""
    _run("ip", "netns", "add", ns)
    _run("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if)
    _run("ip", "link", "set", ns_if, "netns", ns)
    _run("ip", "addr", "add", f"{gateway}/24", "dev", host_if)
    _run("ip", "link", "set", host_if, "up")
    for cmd in (["ip", "addr", "add", f"{address}/24", "dev", ns_if], ["ip", "link", "set", ns_if, "up"],
                ["ip", "link", "set", "lo", "up"], ["ip", "route", "add", "default", "via", gateway]):
        _run("ip", "netns", "exec", ns, *cmd)
    for addr in (address, *others):
        route = _run("ip", "route", "get", addr).stdout
        assert f"dev {host_if}" in route, f"{addr} would not stay on the test's veth: {route}"


def remove_namespace(ns: str, host_if: str) -> None:
    """Kill what still runs in the namespace, then remove it and its veth pair."""
    for pid in _run("ip", "netns", "pids", ns, check=False).stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    _run("ip", "link", "del", host_if, check=False)
    _run("ip", "netns", "del", ns, check=False)


class RemoteHost:
    def __init__(self, name: str = "o3rh", net: str = "10.231.7", data_root: str = "/var/lib/o3-remote-docker",
                 client_key: Optional[Path] = None):
        """client_key: the deploy key this host accepts (one key for a fleet of hosts, as CI has);
        by default a key of its own."""
        self.ns = name
        self.host_if, self.ns_if = f"{name}0", f"{name}1"
        self.gateway, self.address = f"{net}.1", f"{net}.2"
        self.unused = f"{net}.9"  # in the veth's /24, assigned to nobody: "unreachable", on our wire only
        self.data_root = data_root
        self.work = Path(tempfile.mkdtemp(prefix="o3-remote-"))
        self.proc: Optional[subprocess.Popen] = None
        self.own_key = client_key is None
        self.key = self.work / "client_key" if client_key is None else client_key
        self.other_key = self.work / "other_key"
        self.known_hosts = self.work / "known_hosts"
        self.empty_known_hosts = self.work / "known_hosts.empty"

    # --- what a stack needs ------------------------------------------------------------------
    @property
    def docker_host(self) -> str:
        return f"ssh://root@{self.address}"

    def ssh_opts(self, key: Optional[Path] = None, known_hosts: Optional[Path] = None) -> list[str]:
        return ["-i", str(key or self.key), "-o", "IdentitiesOnly=yes",
                "-o", f"UserKnownHostsFile={known_hosts or self.known_hosts}", "-o", "StrictHostKeyChecking=yes"]

    # --- life cycle ----------------------------------------------------------------------------
    def up(self) -> "RemoteHost":
        self.down(quiet=True)
        add_namespace(self.ns, self.host_if, self.ns_if, self.gateway, self.address, self.unused)
        self._keys()
        (self.work / "sshd_config").write_text(
            f"ListenAddress {self.address}\nPort 22\nHostKey {self.work / 'host_key'}\n"
            f"AuthorizedKeysFile {self.work / 'authorized_keys'}\nPidFile /run/sshd.pid\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
            "PermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\n")
        env = dict(os.environ, WORK=str(self.work), DATA_ROOT=self.data_root, CGROUPS=cgroups())
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, "unshare", "--mount", "--propagation", "private", "sh", "-c", LAUNCHER],
            env=env, stdout=subprocess.DEVNULL, stderr=open(self.work / "launcher.log", "w"), start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.ssh("docker info --format '{{.ServerVersion}}'", check=False).returncode == 0:
                self.clean()
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.5)
        logs = "\n".join(f"--- {f}\n{(self.work / f).read_text()[-2000:]}" for f in ("launcher.log", "sshd.log", "dockerd.log")
                         if (self.work / f).exists())
        self.down()
        raise RuntimeError(f"the remote test host did not come up:\n{logs}")

    def _keys(self) -> None:
        for key in ((self.key,) if self.own_key else ()) + (self.other_key, self.work / "host_key"):
            _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", key.name, "-f", str(key))
        (self.work / "authorized_keys").write_text(Path(f"{self.key}.pub").read_text())
        self.known_hosts.write_text(self.known_hosts_line + "\n")
        self.empty_known_hosts.write_text("")

    @property
    def ssh_binary(self) -> str:
        """The system ssh: never a wrapper that a test put first on PATH with another host's options
        (ops._site.use_ssh_opts), whose known_hosts would refuse this host."""
        found = real_ssh()
        assert found, "no ssh client on this machine (Debian: openssh-client)"
        return found

    @property
    def known_hosts_line(self) -> str:
        host_pub = (self.work / "host_key.pub").read_text().split()
        return f"{self.address} {host_pub[0]} {host_pub[1]}"

    def ssh(self, command: str, check: bool = True, timeout: int = 60, **kw) -> subprocess.CompletedProcess:
        return _run(self.ssh_binary, "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", *self.ssh_opts(),
                    f"root@{self.address}", command, check=check, timeout=timeout, **kw)

    def clean(self) -> None:
        """No container or network of an earlier run (the data root, with its images, is kept)."""
        self.ssh("ids=$(docker ps -aq); [ -z \"$ids\" ] || docker rm -f -v $ids >/dev/null; docker network prune -f >/dev/null")

    def load(self, docker_host: str, images: list[str]) -> None:
        """Side-load images from another daemon over ssh (docker save | ssh docker load)."""
        save = subprocess.Popen(["docker", "save", *images], stdout=subprocess.PIPE,
                                env=dict(os.environ, DOCKER_HOST=docker_host))
        load = subprocess.run([self.ssh_binary, "-o", "BatchMode=yes", *self.ssh_opts(), f"root@{self.address}", "docker load"],
                              stdin=save.stdout, capture_output=True, text=True, timeout=600)
        save.wait()
        if load.returncode != 0 or save.returncode != 0:
            raise RuntimeError(f"loading {images} onto the remote test host failed: {load.stderr}")

    def build(self, context: bytes, tag: str) -> None:
        """`docker build` on the host from a tar context (no registry needed)."""
        out = subprocess.run([self.ssh_binary, "-o", "BatchMode=yes", *self.ssh_opts(), f"root@{self.address}",
                              f"docker build -q --network none -t {tag} -"], input=context, capture_output=True, timeout=300)
        if out.returncode != 0:
            raise RuntimeError(f"building {tag} on the remote test host failed: {out.stderr.decode()}")

    def remote_path_exists(self, path: str) -> bool:
        """Whether `path` exists on the remote host (its own /srv), seen from inside it."""
        return self.ssh(f"test -e {path}", check=False).returncode == 0

    def down(self, quiet: bool = False) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.clean()
            except subprocess.SubprocessError:
                pass
            # sshd and dockerd get TERM; dockerd stops its containers and unmounts before it exits.
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None
        remove_namespace(self.ns, self.host_if)
