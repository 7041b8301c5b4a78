"""The off-site backup host of the disaster-recovery tests: a network namespace (`o3bk`, 10.231.9.x)
behind a veth pair, as tests/sshhost.py makes one, running rest-server v0.14.0 (the Pulumi
toolchain's) twice on one folder, both with TLS (a test CA: tests/tlsfixtures.py) and an htpasswd
file:
- port 8000, `--append-only`: what the site's credential reaches (it can add, never delete);
- port 8001, not append-only: the operator's (prune, check, drill, recover);
and an sshd on port 22 for `sftp:` repositories, whose one account may only use sftp and may not
remove a file or folder (`ForceCommand internal-sftp -P remove,rmdir`: the forced command that
makes an sftp repository append-only); the operator reaches those repositories' folders directly.
The repositories' files are in a folder of this machine (`self.data`), so a test can look at them,
or corrupt one, directly. Traffic stays on the veth pair (checked with `ip route get`).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

import bcrypt

from sshhost import add_namespace, remove_namespace
from tlsfixtures import TestCA

SITE_USER, OPERATOR_USER = "site", "operator"


def offsite_config(bk: "BackupHost", path: str, rpo: int = 26) -> dict:
    """o3:offsite for a site whose repository is `path` on this host (the site's append-only
    instance, the operator's own)."""
    return {"repository": bk.repository(path), "httpUser": SITE_USER, "caCert": bk.ca_pem, "rpoHours": rpo,
            "retention": {"keepDaily": 7, "keepWeekly": 4, "keepMonthly": 6, "keepYearly": 1},
            "operator": {"repository": bk.repository(path, operator=True), "httpUser": OPERATOR_USER}}


def offsite_secrets(bk: "BackupHost", repo_password: str) -> dict[str, str]:
    return {"o3:offsitePassword": repo_password, "o3:offsiteHttpPassword": bk.site_password,
            "o3:offsiteOperatorHttpPassword": bk.operator_password}


class BackupHost:
    def __init__(self, name: str = "o3bk", net: str = "10.231.9", site_password: str = "site-http-pass-0001",
                 operator_password: str = "operator-http-pass-01", path: Optional[str] = None):
        """path: where rest-server and restic are (the Pulumi toolchain's PATH)."""
        self.path = path or os.environ["PATH"]
        self.ns = name
        self.host_if, self.ns_if = f"{name}0", f"{name}1"
        self.gateway, self.address = f"{net}.1", f"{net}.2"
        self.site_password, self.operator_password = site_password, operator_password
        self.work = Path(tempfile.mkdtemp(prefix="o3-backuphost-"))
        self.data = self.work / "repos"
        self.ca = TestCA("O3 Test Backup CA")
        self.procs: list[subprocess.Popen] = []

    # --- what a stack and the operator need ------------------------------------------------------
    def repository(self, path: str, operator: bool = False) -> str:
        return f"rest:https://{self.address}:{8001 if operator else 8000}/{path}"

    def sftp_repository(self, path: str) -> str:
        return f"sftp:root@{self.address}:{self.work / 'sftp' / path}"

    @property
    def ssh_key(self) -> str:
        return (self.work / "site_key").read_text()

    @property
    def known_hosts(self) -> str:
        pub = (self.work / "host_key.pub").read_text().split()
        return f"{self.address} {pub[0]} {pub[1]}\n"

    @property
    def ca_pem(self) -> str:
        return self.ca.pem

    def env(self, path: str, password: str, operator: bool = False) -> dict[str, str]:
        """restic's environment for this host (a test's own restic runs; never the site's)."""
        (self.work / "ca.pem").write_text(self.ca.pem)
        return {"RESTIC_REPOSITORY": self.repository(path, operator), "RESTIC_PASSWORD": password,
                "RESTIC_REST_USERNAME": OPERATOR_USER if operator else SITE_USER,
                "RESTIC_REST_PASSWORD": self.operator_password if operator else self.site_password,
                "RESTIC_CACERT": str(self.work / "ca.pem"), "RESTIC_CACHE_DIR": str(self.work / "cache")}

    # --- life cycle --------------------------------------------------------------------------------
    def up(self) -> "BackupHost":
        rest_server = shutil.which("rest-server", path=self.path)
        assert rest_server, "rest-server is not on PATH (scripts/pulumi-toolchain builds it)"
        self.down(quiet=True)
        add_namespace(self.ns, self.host_if, self.ns_if, self.gateway, self.address)
        for rule in self._forward_rules():
            subprocess.run(["iptables", "-w", "-A", "FORWARD", *rule], check=True, capture_output=True)
        self.data.mkdir(parents=True, exist_ok=True)
        issued = self.ca.issue(self.address)
        (self.work / "server.crt").write_text(issued.cert_pem)
        (self.work / "server.key").write_text(issued.key_pem)
        (self.work / "htpasswd").write_text("".join(
            f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt()).decode()}\n"
            for u, p in ((SITE_USER, self.site_password), (OPERATOR_USER, self.operator_password))))
        for port, extra in ((8000, ["--append-only"]), (8001, [])):
            log = open(self.work / f"rest-server-{port}.log", "w")
            self.procs.append(subprocess.Popen(
                ["ip", "netns", "exec", self.ns, rest_server, "--path", str(self.data), "--listen", f"{self.address}:{port}",
                 "--tls", "--tls-cert", str(self.work / "server.crt"), "--tls-key", str(self.work / "server.key"),
                 "--htpasswd-file", str(self.work / "htpasswd"), *extra],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        self._sshd()
        ctx = ssl.create_default_context(cadata=self.ca.pem)
        deadline = time.monotonic() + 30
        for port in (8000, 8001):
            while True:
                try:
                    with socket.create_connection((self.address, port), timeout=2) as s, ctx.wrap_socket(s, server_hostname=self.address):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        logs = "\n".join(p.read_text()[-1500:] for p in self.work.glob("rest-server-*.log"))
                        self.down()
                        raise RuntimeError(f"rest-server did not answer on {self.address}:{port}:\n{logs}")
                    time.sleep(0.3)
        return self

    def _sshd(self) -> None:
        (self.work / "sftp").mkdir(exist_ok=True)
        for key in ("site_key", "host_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", key, "-f", str(self.work / key)],
                           check=True, capture_output=True)
        (self.work / "authorized_keys").write_text((self.work / "site_key.pub").read_text())
        (self.work / "sshd_config").write_text(
            f"ListenAddress {self.address}\nPort 22\nHostKey {self.work / 'host_key'}\n"
            f"AuthorizedKeysFile {self.work / 'authorized_keys'}\nPidFile {self.work / 'sshd.pid'}\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
            "UsePAM no\nStrictModes no\nSubsystem sftp internal-sftp\nForceCommand internal-sftp -P remove,rmdir\n")
        os.makedirs("/run/sshd", exist_ok=True)
        self.procs.append(subprocess.Popen(
            ["ip", "netns", "exec", self.ns, "/usr/sbin/sshd", "-D", "-f", str(self.work / "sshd_config"),
             "-E", str(self.work / "sshd.log")], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True))
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection((self.address, 22), timeout=2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"sshd did not answer on {self.address}:22: {(self.work / 'sshd.log').read_text()[-1500:]}")
                time.sleep(0.3)

    def files(self, path: str, kind: str) -> list[Path]:
        """The repository's files of one kind (snapshots, data, keys, index, locks)."""
        return sorted(p for p in (self.data / path / kind).rglob("*") if p.is_file())

    def _forward_rules(self) -> list[list[str]]:
        """Forwarding to and from this host's veth, whatever the site's Docker network rules say.
        The test cluster's node1 runs kube-router in this machine's network namespace, and its
        every sync saves and restores the whole filter table (kube-router #1248, #1372): a Docker
        network made meanwhile can lose its FORWARD rules, and its containers then cannot reach
        this host (seen in CI: a Docker site's restic waited 300 s on a dropped SYN). Appended,
        so they only stand in for the FORWARD policy: the cluster's NetworkPolicies (kube-router's
        chain, first) and Docker's isolation still decide before them."""
        return [["-o", self.host_if, "-j", "ACCEPT"], ["-i", self.host_if, "-j", "ACCEPT"]]

    def down(self, quiet: bool = False) -> None:
        for rule in self._forward_rules():
            while subprocess.run(["iptables", "-w", "-D", "FORWARD", *rule], capture_output=True).returncode == 0:
                pass
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
        self.procs = []
        remove_namespace(self.ns, self.host_if)

    def restic(self, path: str, *args: str, operator: bool = False, password: str, check: bool = True,
               timeout: int = 600, extra_env: Optional[dict] = None) -> subprocess.CompletedProcess:
        """The toolchain's restic against this host, as the site (append-only) or the operator."""
        env = {**os.environ, "PATH": self.path, **self.env(path, password, operator), **(extra_env or {})}
        out = subprocess.run(["restic", *args], env=env, capture_output=True, text=True, timeout=timeout)
        if check and out.returncode != 0:
            raise AssertionError(f"restic {' '.join(args)} exited {out.returncode}: {out.stderr[-2000:]}")
        return out


def restic_standin(client, base: str, restic_binary: str) -> str:
    """The restic stand-in image: the stand-ins' Debian base (sh, gzip, sha256sum, find) with the
    toolchain's restic as /usr/bin/restic and its entrypoint, as the official image has it, and this
    machine's ssh client (Debian bookworm, as the base: its libraries are there) for sftp, as the
    official image has openssh-client. Tagged by both binaries' hash; built once per daemon."""
    import hashlib
    import io
    import tarfile

    data = Path(restic_binary).read_bytes()
    ssh = Path("/usr/bin/ssh").read_bytes()
    tag = f"o3-standin-restic:{hashlib.sha256(data + ssh + base.encode()).hexdigest()[:12]}"
    try:
        client.images.get(tag)
        return tag
    except Exception:  # docker.errors.ImageNotFound
        pass
    dockerfile = (f'FROM {base}\nCOPY restic /usr/bin/restic\nCOPY ssh /usr/bin/ssh\n'
                  'ENTRYPOINT ["/usr/bin/restic"]\nCMD ["version"]\n').encode()
    ctx = io.BytesIO()
    with tarfile.open(fileobj=ctx, mode="w") as tar:
        for name, blob, mode in (("Dockerfile", dockerfile, 0o644), ("restic", data, 0o755), ("ssh", ssh, 0o755)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(blob), mode
            tar.addfile(info, io.BytesIO(blob))
    client.images.build(fileobj=io.BytesIO(ctx.getvalue()), custom_context=True, tag=tag, rm=True, network_mode="none")
    return tag
