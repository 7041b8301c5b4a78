"""The change-review loop, run for real: the workflows in .github/workflows, executed by nektos/act
with the real actions, the real Pulumi CLI and providers, against three site hosts (network
namespaces with their own sshd and dockerd: tests/sshhost.py), one per rollout ring.

The fleet is a git repository made here: the project's files, three site stacks (a file state
backend, passphrase secrets), and the workflows' secrets in act's secret file. Each scenario makes
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
from sshhost import RemoteHost
from tlsfixtures import TestCA
from workflow_harness import Act, GitHubApi, REPOSITORY, ci_tools, copy_project, git

pytestmark = pytest.mark.e2e

RINGS = ("canary", "early", "broad")
SITES = {ring: f"site-{ring}" for ring in RINGS}
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

    def bump(self, component: str, version: str, *rings: str) -> None:
        """What an operator runs: ops.bump on the sites of these rings, in the fleet's repository."""
        sites = [a for r in rings for a in ("--site", SITES[r])]
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


@pytest.fixture(scope="module")
def fleet(pulumi_env, client, standins, docker_host):
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

        deploy_key = work / "deploy_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "o3-deploy", "-f", str(deploy_key)], check=True)
        sites = {}
        for i, ring in enumerate(RINGS, 1):
            host = RemoteHost(name=f"o3w{i}", net=NETS[ring], data_root=f"/var/lib/o3-fleet-docker-{i}", client_key=deploy_key)
            hosts.append(host.up())
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

        secrets = {"PULUMI_BACKEND_URL": f"file://{work / 'state'}", "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
                   "SITE_SSH_KEY": deploy_key.read_text(),
                   "SITE_KNOWN_HOSTS": "".join(h.known_hosts_line + "\n" for h in hosts),
                   "GITHUB_TOKEN": "ghs_workflowtests0000000000000000000"}
        (work / "state").mkdir()
        act = Act(work, secrets, api)
        f = Fleet(work, sites, act, api, registry, refs, pulumi_env)
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
        f.git("init", "-q", "-b", "main")
        f.commit("The fleet: three sites, one per ring")
        yield f
    finally:
        api.stop()
        registry.stop()
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
    assert json.loads(picked["stacks"]) == sorted(SITES.values())
    assert {r: json.loads(picked[r]) for r in RINGS} == {r: [SITES[r]] for r in RINGS}
    for ring in RINGS:
        assert_job_ok(run, run.one(ring))
    assert _versions(fleet) == {r: PACS_OLD for r in RINGS}


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


def test_a_pr_that_changes_the_components_previews_every_site(fleet):
    before = _ids(fleet)

    def change():
        path = fleet.repo / "components" / "docker" / "apps.py"
        path.write_text(path.read_text() + "\n# reviewed: no change to what runs\n")

    run = fleet.pull_request("Touch the components", change)
    assert run.returncode == 0, run.report()
    assert set(run.by_stack("preview")) == set(SITES.values())
    for job in run.of("preview"):
        assert_job_ok(run, job)
        assert _steps(job.log) == {}, job.log[-3000:]
    assert _ids(fleet) == before


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


def test_the_merge_rolls_out_canary_then_early_then_broad_each_verified(fleet):
    before = _ids(fleet)
    run = fleet.merge("pacs 2.8.2 on every site", lambda: fleet.bump("pacs", PACS_NEW, *RINGS))
    assert run.returncode == 0, run.report()
    for ring in RINGS:
        job = run.one(ring)
        assert_job_ok(run, job)
        ups = [i for i, line in enumerate(job.lines) if "Success - Main pulumi/actions@v7" in line]
        verify = [i for i, line in enumerate(job.lines) if "Success - Main Verify the site" in line]
        assert len(ups) == 2 and verify and verify[0] > ups[-1], f"{ring}: verify must follow the up"
    assert _versions(fleet) == {r: PACS_NEW for r in RINGS}
    after = _ids(fleet)
    for ring in RINGS:
        assert after[ring]["pacs"] != before[ring]["pacs"] and after[ring]["db"] == before[ring]["db"]
    # the hosts show the order: each ring's new pacs was created after the ring before it was done
    times = [_created(fleet, ring, "pacs") for ring in RINGS]
    assert times == sorted(times), dict(zip(RINGS, times))


def test_a_release_that_never_answers_stops_at_the_canary_and_a_revert_brings_it_back(fleet):
    before = _ids(fleet)
    run = fleet.merge("pacs 2.8.3 on every site", lambda: fleet.bump("pacs", PACS_SILENT, *RINGS))
    assert run.returncode != 0, run.report()
    canary = run.one("canary")
    assert canary.result == "failure"
    assert any("Success - Main pulumi/actions@v7" in line for line in canary.lines), "the up itself succeeds"
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


# --- the nightly drift check ------------------------------------------------------------------------

def test_drift_is_green_on_untouched_sites_and_names_the_one_that_drifted(fleet):
    run = fleet.nightly()
    assert run.returncode == 0, run.report()
    assert set(run.by_stack("drift")) == set(SITES.values())

    fleet.sites["broad"].host.ssh("docker rm -f view")
    run = fleet.nightly()
    assert run.returncode != 0, run.report()
    jobs = run.by_stack("drift")
    for ring in ("canary", "early"):
        assert_job_ok(run, jobs[SITES[ring]])
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
    updates = []
    for line in out.stdout.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("msg") == "packageFiles with updates":
            for manager, files in (entry.get("config") or {}).items():
                for pf in files:
                    for dep in pf.get("deps", []):
                        for u in dep.get("updates", []):
                            updates.append((pf["packageFile"], dep["depName"], dep.get("currentValue"), u.get("newValue")))
    pacs = fleet.refs[("pacs", PACS_OLD)].rpartition(":")[0]
    current = YAML(typ="safe").load(fleet.stack_file("canary").read_text())["config"]["o3:images"]["pacs"].rpartition(":")[2]
    assert updates == [(f"Pulumi.{SITES['canary']}.yaml", pacs, current, PACS_NEWEST)], updates
