"""The change-review loop, run for real: the workflows in .github/workflows, executed by nektos/act
with the real actions, the real Pulumi CLI and providers, against three site hosts (network
namespaces with their own sshd and dockerd: tests/sshhost.py), one per rollout ring, and a
Kubernetes site on the test cluster (tests/kube) in ring early, beside the early Docker host.

The fleet is a git repository made here: the project's files, four site stacks (a file state
backend, passphrase secrets), and the workflows' secrets in act's secret file: all of them, the
deploy credentials and the preview ones alike (the workflow hands each job only its own). Each scenario makes
the commit a pull request or a merge would bring, then runs the workflow on that event. What the
hosts hold (container ids, creation times, the version the apps answer with) is the proof, not
only act's logs. The scenarios run in order, on one fleet.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pytest
from ruamel.yaml import YAML

from e2e_harness import REPOS, LocalRegistry, release_context
from kube_harness import kube_stack_config, kubectl, pods
from sshhost import RemoteHost
from tlsfixtures import TestCA
from workflow_harness import Act, GitHubApi, REPOSITORY, ci_tools, copy_project, git

pytestmark = pytest.mark.e2e

RINGS = ("canary", "early", "broad")
SITES = {ring: f"site-{ring}" for ring in RINGS}
KUBE = "site-kube"  # the Kubernetes site, in ring early; its namespace has its name
NETS = {"canary": "10.231.21", "early": "10.231.22", "broad": "10.231.23"}
PACS_OLD, PACS_NEW, PACS_NEWEST = "2.8.1", "2.8.2", "2.9.0"  # PACS_NEWEST: only in the registry, for Renovate
PACS_SILENT = "2.8.3"  # a release that starts and never answers
VIEW, DB = "3.4.2", "8.0.34"
PASSPHRASE = "workflow-fleet-passphrase-4f1c"
DB_PASSWORD = "Wf-db-pw_7d2e9a61c3"
STORAGE = "/srv/o3"


@dataclass
class RingSite:
    ring: str
    stack: str
    host: RemoteHost

    def containers(self) -> dict[str, dict[str, Any]]:
        """What the host runs: name -> id, creation time, image id, state."""
        ids = self.host.ssh("docker ps -aq").stdout.split()
        if not ids:
            return {}
        found = json.loads(self.host.ssh(f"docker inspect {' '.join(ids)}").stdout)
        return {c["Name"].lstrip("/"): {"id": c["Id"], "created": c["Created"], "image": c["Image"],
                                        "running": c["State"]["Running"]} for c in found}

    def answer(self, port: int = 8080, timeout: float = 60) -> Optional[dict[str, Any]]:
        """The stand-in's status from the app on `port`, as a user on the network sees it; None if
        it does not answer within `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://{self.host.address}:{port}/", timeout=5) as r:
                    return json.loads(r.read())
            except (OSError, ValueError):
                time.sleep(1)
        return None


class Fleet:
    """The test fleet: its repository, its three sites, and act to run the workflows on it."""

    def __init__(self, work: Path, sites: dict[str, RingSite], act: Act, api: GitHubApi, registry: LocalRegistry,
                 refs: dict[tuple[str, str], str], pulumi_env: dict[str, str]):
        self.work = work
        self.repo = work / "repo"
        self.sites = sites
        self.act = act
        self.api = api
        self.registry = registry
        self.refs = refs
        self.cli_env = {**os.environ, **pulumi_env, "PULUMI_BACKEND_URL": f"file://{work / 'state'}",
                        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE, "PULUMI_SKIP_CONFIRMATIONS": "true", "NO_COLOR": "1"}
        self.pr_number = 0

    # --- the repository -------------------------------------------------------------------------
    def git(self, *args: str) -> str:
        return git(self.repo, *args)

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def stack_file(self, ring: str) -> Path:
        return self.repo / f"Pulumi.{SITES[ring]}.yaml"

    def edit(self, ring: str, change) -> None:
        yaml = YAML()
        path = self.stack_file(ring)
        doc = yaml.load(path.read_text())
        change(doc["config"])
        with path.open("w") as f:
            yaml.dump(doc, f)

    def bump(self, component: str, version: str, *rings: str, kube: bool = False) -> None:
        """What an operator runs: ops.bump on the Docker sites of these rings (and the Kubernetes
        site), in the fleet's repository."""
        sites = [a for s in [SITES[r] for r in rings] + [KUBE] * kube for a in ("--site", s)]
        out = subprocess.run([sys.executable, "-m", "ops.bump", "--component", component, "--version", version,
                              *sites, "--dir", str(self.repo)], cwd=self.repo, capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.head()

    # --- events --------------------------------------------------------------------------------
    def pull_request(self, message: str, change) -> Any:
        """A pull request from a branch off main with one commit (`change` edits the files): the
        preview workflow on its `pull_request` event. main is checked out again afterwards."""
        base = self.head()
        self.pr_number += 1
        branch = f"pr-{self.pr_number}"
        self.git("checkout", "-q", "-b", branch)
        try:
            change()
            head = self.commit(message)
            payload = {"action": "synchronize", "number": self.pr_number,
                       "pull_request": {"number": self.pr_number, "title": message,
                                        "base": {"ref": "main", "sha": base}, "head": {"ref": branch, "sha": head}},
                       "repository": {"full_name": REPOSITORY}}
            return self.act.run(self.repo, "preview.yml", "pull_request", payload)
        finally:
            self.git("checkout", "-q", "main")

    def merge(self, message: str, change) -> Any:
        """A merge to main (`change` edits the files): the up workflow on its `push` event."""
        before = self.head()
        change()
        return self.push(before, self.commit(message))

    def push(self, before: str, after: str) -> Any:
        payload = {"ref": "refs/heads/main", "before": before, "after": after, "deleted": False,
                   "repository": {"full_name": REPOSITORY}}
        return self.act.run(self.repo, "up.yml", "push", payload)

    def nightly(self) -> Any:
        return self.act.run(self.repo, "drift.yml", "schedule", {"schedule": "17 5 * * *"})

    # --- the CLI, as the operator runs it -----------------------------------------------------
    def pulumi(self, *args: str, input: Optional[str] = None) -> str:
        out = subprocess.run(["pulumi", *args, "--non-interactive"], cwd=self.repo, env=self.cli_env,
                             capture_output=True, text=True, input=input, timeout=900)
        assert out.returncode == 0, f"pulumi {' '.join(args)}: {out.stdout[-3000:]}{out.stderr[-3000:]}"
        return out.stdout


# --- the fleet -------------------------------------------------------------------------------

def _stack_config(ring: str, host: RemoteHost, refs: dict[tuple[str, str], str]) -> dict[str, Any]:
    return {
        "docker:host": host.docker_host,
        "o3:site": {"name": SITES[ring], "timezone": "Europe/Rome", "storagePath": STORAGE, "concurrentUsers": 10,
                    "examsPerDay": 100, "publicHost": host.address, "ring": ring},
        "o3:host": {"cpuCores": 8, "memoryGb": 16, "storageGb": 500, "networkMbps": 1000},
        "o3:images": {"db": refs[("db", DB)], "pacs": refs[("pacs", PACS_OLD)], "view": refs[("view", VIEW)]},
        # the hosts' dockerd inherits this sandbox's open-files cap (preflight would say so)
        "o3:database": {"ulimits": {"nofileSoft": 20000, "nofileHard": 20000}, "waitTimeoutSeconds": 180},
    }


def _registry_tags(client, registry: LocalRegistry, refs: dict[tuple[str, str], str]) -> None:
    """The tags Renovate looks up: a tiny image per tag (Renovate reads tags, not layers)."""
    import io
    import tarfile

    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        info = tarfile.TarInfo("tag")
        tar.addfile(info, io.BytesIO(b""))
    for ref in refs.values():
        repo, _, tag = ref.rpartition(":")
        client.api.import_image_from_data(data.getvalue(), repository=repo, tag=tag)
        for line in client.images.push(repo, tag=tag, stream=True, decode=True):
            assert "error" not in line, line
        client.images.remove(ref)


def _kube_images(fleet: "Fleet") -> dict[str, set[str]]:
    """The images the Kubernetes site's pods run, by role."""
    return {role: {c["image"] for p in pods(KUBE, role) for c in p["spec"]["containers"]}
            for role in ("pacs", "pacs-singleton", "view", "db")}


def _kubeconfig_as_json(path: str) -> str:
    """The same credential in another text (JSON is YAML): the preview's secret, told apart from the deploy one by value."""
    return json.dumps(YAML(typ="safe").load(Path(path).read_text()), indent=1)


@pytest.fixture(scope="module")
def fleet(pulumi_env, client, standins, docker_host, kube_cluster, kube_refs):
    work = Path(tempfile.mkdtemp(prefix="o3-e2e-workflows-"))
    hosts: list[RemoteHost] = []
    ca = TestCA("O3 workflow tests registry CA")
    cert = ca.issue("127.0.0.1")
    registry = LocalRegistry(Path(os.environ.get("O3_E2E_REGISTRY_CACHE", "/var/cache/o3-e2e-registry")) / "workflows",
                             tls=(cert.cert_pem, cert.key_pem, ca.pem))
    api = GitHubApi()
    try:
        start = time.monotonic()
        refs: dict[tuple[str, str], str] = {}
        for comp, versions in (("pacs", (PACS_OLD, PACS_NEW, PACS_SILENT, PACS_NEWEST)), ("view", (VIEW,)), ("db", (DB,))):
            for v in versions:
                refs[(comp, v)] = f"{registry.host}/{REPOS[comp]}:{v}"
        _registry_tags(client, registry, {k: v for k, v in refs.items() if k != ("pacs", PACS_SILENT)})

        deploy_key, preview_key = work / "deploy_key", work / "preview_key"
        for key in (deploy_key, preview_key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", key.name, "-f", str(key)], check=True)
        sites = {}
        for i, ring in enumerate(RINGS, 1):
            host = RemoteHost(name=f"o3w{i}", net=NETS[ring], data_root=f"/var/lib/o3-fleet-docker-{i}", client_key=deploy_key)
            hosts.append(host.up())
            # the preview user's key (a real host narrows it: README, Rollouts); here it is let in as the deploy key is
            with (host.work / "authorized_keys").open("a") as fh:
                fh.write(Path(f"{preview_key}.pub").read_text())
            missing = [img for img in standins.values()
                       if host.ssh(f"docker image inspect {img}", check=False).returncode != 0]
            if missing:
                host.load(docker_host, missing)
            for (comp, v), ref in refs.items():
                if comp == "pacs" and v == PACS_NEWEST:
                    continue  # a release the sites never get: Renovate only proposes it
                host.build(release_context(standins[comp if comp == "db" else "app"], v,
                                           silent=(comp, v) == ("pacs", PACS_SILENT)), ref)
            sites[ring] = RingSite(ring, SITES[ring], host)
        print(f"\n[figures] fleet hosts ready in {time.monotonic() - start:.0f} s")

        kubectl("delete", "namespace", KUBE, "--ignore-not-found", "--wait=true", timeout=600)
        secrets = {"PULUMI_BACKEND_URL": f"file://{work / 'state'}", "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
                   "SITE_SSH_KEY": deploy_key.read_text(),
                   "SITE_KNOWN_HOSTS": "".join(h.known_hosts_line + "\n" for h in hosts),
                   f"KUBECONFIG_{KUBE.upper().replace('-', '_')}": Path(kube_cluster).read_text(),
                   # the preview's own credentials: the same state read by another path, another key,
                   # the cluster's credential in another text
                   "PREVIEW_BACKEND_URL": f"file://{work / 'read-state'}", "PREVIEW_SSH_KEY": preview_key.read_text(),
                   f"PREVIEW_KUBECONFIG_{KUBE.upper().replace('-', '_')}": _kubeconfig_as_json(kube_cluster),
                   "GITHUB_TOKEN": "ghs_workflowtests0000000000000000000"}
        (work / "state").mkdir()
        (work / "read-state").symlink_to(work / "state")
        act = Act(work, secrets, api)
        f = Fleet(work, sites, act, api, registry, refs, pulumi_env)
        f.secrets, f.kube_refs = secrets, kube_refs
        f.repo.mkdir()
        copy_project(f.repo)
        # README, "Add a site": a canary site's file joins Renovate's list.
        renovate = json.loads((f.repo / "renovate.json").read_text())
        renovate["customManagers"][0]["managerFilePatterns"] = [f"/^Pulumi\\.{SITES['canary']}\\.yaml$/"]
        (f.repo / "renovate.json").write_text(json.dumps(renovate, indent=2) + "\n")
        yaml = YAML()
        for ring in RINGS:
            with f.stack_file(ring).open("w") as fh:
                yaml.dump({"config": _stack_config(ring, sites[ring].host, refs)}, fh)
            f.pulumi("stack", "init", SITES[ring], "--secrets-provider", "passphrase")
            f.pulumi("config", "set", "--secret", "o3:dbPassword", "--stack", SITES[ring], input=DB_PASSWORD)
        # the Kubernetes site: its file names no kubeconfig (CI hands it over: KUBECONFIG_SITE_KUBE)
        kube = {k: v for k, v in kube_stack_config(KUBE, kube_cluster, kube_refs, ring="early").items()
                if k != "kubernetes:kubeconfig"}
        with (f.repo / f"Pulumi.{KUBE}.yaml").open("w") as fh:
            yaml.dump({"config": kube}, fh)
        f.pulumi("stack", "init", KUBE, "--secrets-provider", "passphrase")
        f.pulumi("config", "set", "--secret", "o3:dbPassword", "--stack", KUBE, input=DB_PASSWORD)
        f.git("init", "-q", "-b", "main")
        f.commit("The fleet: three Docker sites, one per ring, and a Kubernetes site in ring early")
        yield f
    finally:
        api.stop()
        registry.stop()
        kubectl("delete", "namespace", KUBE, "--ignore-not-found", "--wait=true", check=False, timeout=600)
        for h in hosts:
            h.down()
        if os.environ.get("O3_KEEP_WORK") != "1":  # keep the repository, logs and state to look at
            shutil.rmtree(work, ignore_errors=True)


def _versions(fleet: Fleet) -> dict[str, Optional[str]]:
    """The pacs version each site answers with on the network (None: no answer)."""
    out = {}
    for ring, site in fleet.sites.items():
        status = site.answer(timeout=20)
        out[ring] = status and status.get("version")
    return out


def _ids(fleet: Fleet) -> dict[str, dict[str, str]]:
    return {ring: {name: c["id"] for name, c in site.containers().items()} for ring, site in fleet.sites.items()}


def _steps(log: str) -> dict[str, set[str]]:
    """What a `pulumi preview --diff` log shows to change: {operation: {resource name}}, leaving
    out the refresh reads (Pulumi.yaml refreshes first) and our components (o3:index:*, whose
    inputs are only recorded). In the diff each resource is a `<mark><type>: (<operation>)` line
    followed by its `[urn=...]` line."""
    found: dict[str, set[str]] = {}
    lines = log.splitlines()
    for i, line in enumerate(lines):
        text = line.strip()
        if not text.endswith(")") or ": (" not in text or text[:1] not in "+-~":
            continue
        head, _, op = text[:-1].rpartition(": (")
        type_ = head.lstrip("+-~ ")
        if op in ("refresh", "read", "same") or type_.startswith("o3:index:") or type_ == "pulumi:pulumi:Stack":
            continue
        urn = next((n.strip() for n in lines[i + 1:i + 4] if n.strip().startswith("[urn=")), "")
        found.setdefault(op, set()).add(urn.rstrip("]").rsplit("::", 1)[-1])
    return found


def assert_job_ok(run, job) -> None:
    assert job.result == "success", f"{job.name}: {job.result}\n" + "\n".join(job.lines[-60:]) + "\n" + run.describe()


# --- the first deploy: a push that creates main (before = the all-zero id) ------------------------

def test_the_first_merge_deploys_every_site_ring_by_ring(fleet):
    run = fleet.push("0" * 40, fleet.head())
    assert run.returncode == 0, run.report()
    picked = run.outputs("stacks")
    assert json.loads(picked["stacks"]) == sorted([*SITES.values(), KUBE])
    assert {r: json.loads(picked[r]) for r in RINGS} == {"canary": [SITES["canary"]], "early": sorted([SITES["early"], KUBE]),
                                                         "broad": [SITES["broad"]]}
    for ring in ("canary", "broad"):
        assert_job_ok(run, run.one(ring))
    assert set(run.by_stack("early")) == {SITES["early"], KUBE}
    for job in run.of("early"):
        assert_job_ok(run, job)
    assert _versions(fleet) == {r: PACS_OLD for r in RINGS}
    assert _kube_images(fleet)["pacs"] == {fleet.kube_refs[("pacs", PACS_OLD)]}


# --- pull requests: previews, and nothing on the hosts changes ---------------------------------------

def test_a_pr_that_bumps_the_canarys_pacs_previews_the_canary_only(fleet):
    before = _ids(fleet)
    comments = len(fleet.api.comments)
    run = fleet.pull_request("Bump pacs on the canary", lambda: fleet.bump("pacs", PACS_NEW, "canary"))
    assert run.returncode == 0, run.report()
    assert json.loads(run.outputs("stacks")["stacks"]) == [SITES["canary"]]
    assert set(run.by_stack("preview")) == {SITES["canary"]}
    job = run.by_stack("preview")[SITES["canary"]]
    assert_job_ok(run, job)
    assert "Policy Packs run:" in job.log and "o3-site|local|policy" in job.log, "the preview ran without the pack"
    site = SITES["canary"]
    assert _steps(job.log) == {"replace": {f"{site}-pacs-image", f"{site}-apps-pacs", f"{site}-apps-pacs-singleton",
                                      f"{site}-backup-dump"}}, job.log[-5000:]
    # of the containers, exactly pacs and pacs-singleton (README, Upgrade: the image and the dump step go with them)
    posted = fleet.api.comments[comments:]
    assert [path for path, _ in posted] == [f"/repos/{REPOSITORY}/issues/{fleet.pr_number}/comments"]
    assert f"on o3/{site}" in posted[0][1] and "(replace)" in posted[0][1]
    assert _ids(fleet) == before, "a preview changed a host"


def test_a_pr_that_bumps_the_kubernetes_sites_pacs_previews_that_site_only(fleet):
    before, images = _ids(fleet), _kube_images(fleet)
    comments = len(fleet.api.comments)
    run = fleet.pull_request("Bump pacs on the Kubernetes site", lambda: fleet.bump("pacs", PACS_NEW, kube=True))
    assert run.returncode == 0, run.report()
    assert json.loads(run.outputs("stacks")["stacks"]) == [KUBE]
    assert set(run.by_stack("preview")) == {KUBE}
    job = run.by_stack("preview")[KUBE]
    assert_job_ok(run, job)
    assert "Policy Packs run:" in job.log, "the preview ran without the pack"
    steps = _steps(job.log)
    print(f"\n[figures] the Kubernetes site's preview of the pacs bump: {steps}")
    # the pacs Deployments roll, and the dump step that goes with an image change; nothing of the database
    assert steps == {"update": {f"{KUBE}-apps-pacs", f"{KUBE}-apps-pacs-singleton"},
                     "replace": {f"{KUBE}-backup-pre-upgrade"}}, job.log[-5000:]
    posted = fleet.api.comments[comments:]
    assert len(posted) == 1 and f"on o3/{KUBE}" in posted[0][1]
    assert _ids(fleet) == before and _kube_images(fleet) == images, "a preview changed a site"


def test_a_pr_that_changes_the_program_previews_every_site_and_its_code_gets_no_deploy_secret(fleet):
    """The pull request's own program (run by the preview) writes down every variable it sees and
    every file in the job's temporary folder: none holds a deploy secret, act's secret file has all."""
    before = _ids(fleet)
    dump = fleet.work / "pr-program-saw"
    dump.mkdir(exist_ok=True)

    def change():
        path = fleet.repo / "__main__.py"
        path.write_text(path.read_text() + f"""
# what a pull request's code could read in the preview job
import json as _j, os as _o, pathlib as _p
_seen = dict(_o.environ)
for _f in _p.Path(_o.environ.get("RUNNER_TEMP", "/nonexistent")).rglob("*"):
    if _f.is_file() and _f.stat().st_size < 100000:
        _seen[str(_f)] = _f.read_text(errors="replace")
_p.Path({str(dump)!r}, str(_o.getpid())).write_text(_j.dumps(_seen))
""")

    run = fleet.pull_request("Change the program", change)
    assert run.returncode == 0, run.report()
    assert set(run.by_stack("preview")) == {*SITES.values(), KUBE}
    for job in run.of("preview"):
        assert_job_ok(run, job)
        assert _steps(job.log) == {}, job.log[-3000:]
    assert _ids(fleet) == before
    seen = [path.read_text() for path in dump.iterdir()]
    assert seen, "the pull request's program never ran"
    deploy = {k: v for k, v in fleet.secrets.items() if k.startswith(("PULUMI_BACKEND_URL", "SITE_SSH_KEY", "KUBECONFIG_"))}
    kube_id = KUBE.upper().replace("-", "_")
    for text in seen:
        got = [k for k, v in deploy.items() if json.dumps(v)[1:-1] in text or v.strip() in text]
        assert not got, f"the pull request's program read the deploy secret(s) {got}"
    both = "".join(seen)
    print(f"\n[figures] the pull request's program ran {len(seen)} times; deploy secrets seen: 0 of {len(deploy)}")
    # what it could read is the preview's own: its key and (in the Kubernetes site's job) its kubeconfig
    assert json.dumps(fleet.secrets["PREVIEW_SSH_KEY"])[1:-1] in both
    assert json.dumps(fleet.secrets[f"PREVIEW_KUBECONFIG_{kube_id}"])[1:-1] in both


def _why(job) -> str:
    """The lines of a job's log that say why it failed (a preview's diff is long)."""
    return "\n".join(line for line in job.log.splitlines() if re.search(r"error|violation|policy|denied|refused", line, re.I))


def test_a_pr_that_shrinks_the_early_host_fails_its_preview_only(fleet):
    before = _ids(fleet)

    def change():
        fleet.edit("early", lambda c: c["o3:host"].update(cpuCores=4))  # 10 users need 6
        canary = fleet.stack_file("canary")
        canary.write_text("# St Elsewhere canary: reviewed 2026-12\n" + canary.read_text())

    for attempt in (1, 2):
        run = fleet.pull_request("Smaller host for the early site, a note on the canary", change)
        early = run.by_stack("preview").get(SITES["early"])
        if attempt == 1 and early is not None and early.result == "failure" and "Policy" not in early.log:
            # Seen once in three CI runs, with the three e2e families' load: the early preview failed
            # before its policy pack ran, and the log said no more (the closing note of issue 25). It
            # is shown and tried once more; what it asserts below holds for the run that counts.
            print(f"\n[figures] the early preview failed before its pack ran; tried once more. Its lines:\n{_why(early)[-3000:]}")
            continue
        break
    assert run.returncode != 0, run.report()
    previews = run.by_stack("preview")
    assert set(previews) == {SITES["canary"], SITES["early"]}
    assert_job_ok(run, previews[SITES["canary"]])
    early = previews[SITES["early"]]
    assert early.result == "failure"
    assert "site-early" in early.name and "o3-sizing-cores" in early.log, _why(early)[-4000:] + "\n...\n" + early.log[-1500:]
    assert _ids(fleet) == before


# --- merges: the rollout, ring by ring --------------------------------------------------------------

def _created(fleet: Fleet, ring: str, name: str) -> str:
    return fleet.sites[ring].containers()[name]["created"]


PULUMI_STEP = "Main pulumi/actions@8e5e406f4007fca908480587cb9893c07090f58d"


def _kube_pacs_created() -> str:
    """When the Kubernetes site's newest pacs pod was created (RFC 3339, seconds)."""
    return max(p["metadata"]["creationTimestamp"] for p in pods(KUBE, "pacs"))


def test_the_merge_rolls_out_canary_then_early_then_broad_each_verified(fleet):
    before = _ids(fleet)
    run = fleet.merge("pacs 2.8.2 on every site", lambda: fleet.bump("pacs", PACS_NEW, *RINGS, kube=True))
    assert run.returncode == 0, run.report()
    assert set(run.by_stack("early")) == {SITES["early"], KUBE}, "the ring holds its Docker and its Kubernetes site"
    for job in run.of("canary") + run.of("early") + run.of("broad"):
        assert_job_ok(run, job)
        ups = [i for i, line in enumerate(job.lines) if f"Success - {PULUMI_STEP}" in line]
        verify = [i for i, line in enumerate(job.lines) if "Success - Main Verify the site" in line]
        assert len(ups) == 2 and verify and verify[0] > ups[-1], f"{job.name}: verify must follow the up"
    assert _versions(fleet) == {r: PACS_NEW for r in RINGS}
    assert _kube_images(fleet)["pacs"] == {fleet.kube_refs[("pacs", PACS_NEW)]}
    assert _kube_images(fleet)["db"] == {fleet.kube_refs[("db", DB)]}
    after = _ids(fleet)
    for ring in RINGS:
        assert after[ring]["pacs"] != before[ring]["pacs"] and after[ring]["db"] == before[ring]["db"]
    # the hosts show the order: each ring's new pacs was created after the ring before it was done,
    # the Kubernetes site's (seconds) between the canary's and broad's
    times = [_created(fleet, ring, "pacs") for ring in RINGS]
    assert times == sorted(times), dict(zip(RINGS, times))
    kube = _kube_pacs_created()
    assert times[0][:19] <= kube[:19] <= times[2][:19], (times, kube)


def test_a_release_that_never_answers_stops_at_the_canary_and_a_revert_brings_it_back(fleet):
    before = _ids(fleet)
    run = fleet.merge("pacs 2.8.3 on every site", lambda: fleet.bump("pacs", PACS_SILENT, *RINGS))
    assert run.returncode != 0, run.report()
    canary = run.one("canary")
    assert canary.result == "failure"
    assert any(f"Success - {PULUMI_STEP}" in line for line in canary.lines), "the up itself succeeds"
    assert any("Failure - Main Verify the site" in line for line in canary.lines), canary.log[-3000:]
    for ring in ("early", "broad"):
        assert not any("pulumi/actions" in line for job in run.of(ring) for line in job.lines), f"{ring} was started"
    after = _ids(fleet)
    assert after["canary"]["pacs"] != before["canary"]["pacs"]
    assert fleet.sites["canary"].answer(timeout=10) is None, "the canary's new pacs answers"
    assert after["early"] == before["early"] and after["broad"] == before["broad"]

    # README, Rollouts: revert the line and merge
    reverted_from = fleet.head()
    fleet.git("revert", "--no-edit", "HEAD")
    run = fleet.push(reverted_from, fleet.head())
    assert run.returncode == 0, run.report()
    assert _versions(fleet) == {r: PACS_NEW for r in RINGS}
    assert _ids(fleet)["broad"] == before["broad"], "the revert changed nothing on broad"
    # what was picked: the canary only, whose last up was never verified (the revert's diff is empty)
    assert json.loads(run.outputs("stacks")["stacks"]) == [SITES["canary"]]


# --- no pushed change is skipped ------------------------------------------------------------------

def test_three_pushes_with_the_middle_run_cancelled_leave_no_touched_site_behind(fleet):
    """GitHub cancels a pending run when a third push comes: the rollout compares each stack with
    what it last deployed and verified, not with the push's `before`, so the middle push's site is
    rolled out by the last run."""
    fleet.merge("A note on the canary", lambda: fleet.stack_file("canary").write_text(
        "# St Elsewhere canary: reviewed 2027-01\n" + fleet.stack_file("canary").read_text()))  # run 1: runs
    middle_from = fleet.head()
    fleet.edit("broad", lambda c: c.setdefault("o3:extraEnv", {}).update({"view": {"O3_TEST_PUSH": "middle"}}))
    fleet.commit("The broad site's view gets a variable")  # run 2: cancelled, never runs
    kube = fleet.repo / f"Pulumi.{KUBE}.yaml"
    kube.write_text("# Harbour: reviewed 2027-01\n" + kube.read_text())
    run = fleet.push(fleet.git("rev-parse", "HEAD"), fleet.commit("A note on the Kubernetes site"))  # run 3
    assert run.returncode == 0, run.report()
    picked = run.outputs("stacks")
    assert json.loads(picked["stacks"]) == sorted([SITES["broad"], KUBE]), picked
    assert set(run.by_stack("early")) == {KUBE} and set(run.by_stack("broad")) == {SITES["broad"]}
    for job in run.of("early") + run.of("broad"):
        assert_job_ok(run, job)
    env = fleet.sites["broad"].host.ssh("docker inspect -f '{{json .Config.Env}}' view").stdout
    assert "O3_TEST_PUSH=middle" in env, "the cancelled push's change never reached the broad site"
    behind = subprocess.run([sys.executable, "-m", "ops.stacks", "--since-deployed", "--dir", str(fleet.repo)],
                            cwd=fleet.repo, env=fleet.cli_env, capture_output=True, text=True)
    assert behind.returncode == 0 and json.loads(behind.stdout) == [], behind.stdout + behind.stderr
    print(f"\n[figures] three pushes, the middle run cancelled: {middle_from[:7]}.. rolled out by the last run")


# --- the nightly drift check ------------------------------------------------------------------------

def test_drift_is_green_on_untouched_sites_and_names_the_one_that_drifted(fleet):
    run = fleet.nightly()
    assert run.returncode == 0, run.report()
    assert set(run.by_stack("drift")) == {*SITES.values(), KUBE}
    assert_job_ok(run, run.by_stack("drift")[KUBE])

    fleet.sites["broad"].host.ssh("docker rm -f view")
    run = fleet.nightly()
    assert run.returncode != 0, run.report()
    jobs = run.by_stack("drift")
    for stack in (SITES["canary"], SITES["early"], KUBE):
        assert_job_ok(run, jobs[stack])
    broad = jobs[SITES["broad"]]
    assert broad.result == "failure" and "site-broad" in broad.name
    assert _steps(broad.log) == {"create": {f"{SITES['broad']}-apps-view"}}, broad.log[-3000:]


# --- Renovate ---------------------------------------------------------------------------------------

def test_renovate_proposes_the_newer_pacs_for_the_canary_only(fleet):
    tools = ci_tools("renovate")
    node, renovate = (Path(tools["parts"][p]) / "bin" for p in ("node", "renovate"))
    env = {"PATH": f"{node}:{renovate}:{os.environ['PATH']}", "HOME": str(fleet.work),
           "LOG_FORMAT": "json", "LOG_LEVEL": "debug", "RENOVATE_BASE_DIR": str(fleet.work / "renovate"),
           "NODE_EXTRA_CA_CERTS": str(fleet.registry.ca_file),
           "RENOVATE_SECRETS": json.dumps({"O3_REGISTRY_KEY": "renovate-test-registry-key"})}
    out = subprocess.run(["renovate", "--platform=local", "--dry-run=lookup"], cwd=fleet.repo, env=env,
                         capture_output=True, text=True, timeout=600)
    (fleet.work / "renovate.log").write_text(out.stdout + out.stderr)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    updates, pins = [], set()
    for line in out.stdout.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("msg") == "packageFiles with updates":
            for manager, files in (entry.get("config") or {}).items():
                for pf in files:
                    for dep in pf.get("deps", []):
                        if manager == "github-actions" and dep.get("currentDigest"):
                            pins.add((dep["depName"], dep.get("currentValue"), dep["currentDigest"]))
                        for u in dep.get("updates", []):
                            updates.append((pf["packageFile"], dep["depName"], dep.get("currentValue"), u.get("newValue")))
    # the action pins, each read as its commit and its tag (offline, their lookups have no GitHub to ask)
    assert pins == {("actions/checkout", "v5.1.0", "fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09"),
                    ("actions/setup-python", "v6.3.0", "ece7cb06caefa5fff74198d8649806c4678c61a1"),
                    ("pulumi/actions", "v7.0.0", "8e5e406f4007fca908480587cb9893c07090f58d")}, pins
    pacs = fleet.refs[("pacs", PACS_OLD)].rpartition(":")[0]
    current = YAML(typ="safe").load(fleet.stack_file("canary").read_text())["config"]["o3:images"]["pacs"].rpartition(":")[2]
    assert updates == [(f"Pulumi.{SITES['canary']}.yaml", pacs, current, PACS_NEWEST)], updates
