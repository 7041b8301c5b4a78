"""Day-2 commands on sample stack files in a temp folder, and the CI/Renovate configuration."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from ops import bump, fleet, stacks

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(ROOT / ".venv" / "bin")
SAMPLE_FLEET = Path(__file__).resolve().parent / "fleet"  # stable sample stacks, not the shipped ones


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.iterdir())}


# --- bump ----------------------------------------------------------------------------------

def test_bump_changes_only_the_tag_line_in_the_rings_files(fleet_dir, capsys):
    before = snapshot(fleet_dir)
    assert bump.main(["--component", "pacs", "--version", "2.9.0", "--ring", "canary", "--dir", str(fleet_dir)]) == 0
    after = snapshot(fleet_dir)
    changed = {n for n in before if before[n] != after[n]}
    assert changed == {"Pulumi.st-marys.yaml", "Pulumi.dev.yaml"}
    for name in changed:
        old, new = before[name].splitlines(), after[name].splitlines()
        diff = [(a, b) for a, b in zip(old, new) if a != b]
        assert len(old) == len(new) and len(diff) == 1, diff  # comments and layout untouched
        assert diff[0][0].endswith("pacs-cloud:2.8.1") and diff[0][1].endswith("pacs-cloud:2.9.0")
    assert "bumped Pulumi.st-marys.yaml" in capsys.readouterr().out


def test_bump_by_site_and_of_a_default_db_image(fleet_dir):
    assert bump.main(["--component", "db", "--version", "8.0.40", "--site", "north-clinic", "--dir", str(fleet_dir)]) == 0
    doc = YAML(typ="safe").load((fleet_dir / "Pulumi.north-clinic.yaml").read_text())
    assert doc["config"]["o3:images"]["db"] == "mysql:8.0.40"
    assert "# North clinic" in (fleet_dir / "Pulumi.north-clinic.yaml").read_text()


@pytest.mark.parametrize(
    "args, words",
    [
        (["--component", "pacs", "--version", "latest", "--ring", "canary"], "'latest' is not a version"),
        (["--component", "pacs", "--version", "{X.Y.Z}", "--ring", "canary"], "placeholder"),
        (["--component", "pacs", "--version", "", "--ring", "canary"], "empty"),
        (["--component", "pacs", "--version", "2.9 beta", "--ring", "canary"], "not a valid image tag"),
        (["--component", "pacs", "--version", "2.9.0", "--site", "atlantis"], "unknown site(s) atlantis"),
        (["--component", "ris", "--version", "2.9.0", "--ring", "canary"], "unknown component 'ris'"),
    ],
)
def test_bad_bump_input_is_refused_and_nothing_is_written(fleet_dir, capsys, args, words):
    before = snapshot(fleet_dir)
    assert bump.main([*args, "--dir", str(fleet_dir)]) == 2
    assert words in capsys.readouterr().err
    assert snapshot(fleet_dir) == before


def test_malformed_yaml_in_a_target_stops_every_write(fleet_dir, capsys):
    (fleet_dir / "Pulumi.dev.yaml").write_text("config:\n  o3:site: [unclosed\n")
    before = snapshot(fleet_dir)
    assert bump.main(["--component", "view", "--version", "3.5.0", "--ring", "canary", "--dir", str(fleet_dir)]) == 2
    assert "Pulumi.dev.yaml is not valid YAML, nothing was changed" in capsys.readouterr().err
    assert snapshot(fleet_dir) == before, "st-marys (valid, same ring) must not be written either"


def test_dry_run_and_already_current_write_nothing(fleet_dir, capsys):
    before = snapshot(fleet_dir)
    assert bump.main(["--component", "view", "--version", "3.5.0", "--ring", "early", "--dir", str(fleet_dir), "--dry-run"]) == 0
    assert "would bump Pulumi.riverside.yaml" in capsys.readouterr().out
    assert bump.main(["--component", "view", "--version", "3.4.2", "--ring", "early", "--dir", str(fleet_dir)]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert snapshot(fleet_dir) == before


def test_a_bump_that_would_break_the_config_is_refused(fleet_dir, capsys):
    text = (fleet_dir / "Pulumi.riverside.yaml").read_text()
    (fleet_dir / "Pulumi.riverside.yaml").write_text(text.replace("concurrentUsers: 24", "concurrentUsers: 0"))
    before = snapshot(fleet_dir)
    assert bump.main(["--component", "view", "--version", "3.5.0", "--site", "riverside", "--dir", str(fleet_dir)]) == 2
    assert "would not be valid after the bump" in capsys.readouterr().err
    assert snapshot(fleet_dir) == before


# --- fleet ---------------------------------------------------------------------------------

def test_fleet_table_and_json(fleet_dir, capsys):
    assert fleet.main(["--dir", str(fleet_dir)]) == 0
    out = capsys.readouterr().out
    for site in ("dev", "st-marys", "riverside", "north-clinic"):
        assert site in out
    assert fleet.main(["--dir", str(fleet_dir), "--json"]) == 0
    rows = {r["stack"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["riverside"]["ring"] == "early" and rows["riverside"]["pathology"] is True
    assert rows["riverside"]["minimum"]["cpuCores"] == 36  # 1.5 x 24 users
    assert rows["st-marys"]["versions"] == {"pacs": "2.8.1", "view": "3.4.2", "db": "8.0.34"}
    assert rows["st-marys"]["sizing"] == "pass"


def test_fleet_shows_a_short_host_and_a_broken_file(fleet_dir, capsys):
    text = (fleet_dir / "Pulumi.st-marys.yaml").read_text()
    (fleet_dir / "Pulumi.st-marys.yaml").write_text(text.replace("cpuCores: 20", "cpuCores: 12"))
    (fleet_dir / "Pulumi.broken.yaml").write_text("config: [\n")
    assert fleet.main(["--dir", str(fleet_dir), "--json"]) == 1
    rows = {r["stack"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["st-marys"]["sizing"] == "short" and rows["st-marys"]["shortBy"] == {"cpuCores": 6}
    assert "not valid YAML" in rows["broken"]["error"]
    assert fleet.main(["--dir", str(fleet_dir)]) == 1
    out = capsys.readouterr().out
    assert "short (cpuCores -6)" in out and "ERROR" in out


# --- which stacks CI runs ---------------------------------------------------------------------

ALL_CI = ["harbour-pathology", "north-clinic", "riverside", "st-marys"]


def test_ci_stacks_hold_kubernetes_beside_docker_and_leave_out_only_a_stack_that_says_so(fleet_dir):
    configs = stacks.load_configs(fleet_dir)
    assert stacks.by_ring(stacks.select(configs), configs) == {
        "canary": ["st-marys"], "early": ["harbour-pathology", "riverside"], "broad": ["north-clinic"]}
    assert configs["dev"]["o3:site"]["ci"] is False  # dev opts out in its own file


@pytest.mark.parametrize(
    "changed, expected",
    [
        (["Pulumi.riverside.yaml"], ["riverside"]),
        (["Pulumi.harbour-pathology.yaml"], ["harbour-pathology"]),
        (["Pulumi.dev.yaml", "README.md"], []),
        (["components/apps.py"], ALL_CI),
        (["policy/rules/pinned_images.py"], ALL_CI),
    ],
)
def test_changed_files_pick_the_stacks(fleet_dir, changed, expected):
    assert stacks.select(stacks.load_configs(fleet_dir), changed) == expected


@pytest.mark.parametrize(
    "stack, edit, words",
    [
        ("dev", ("    ci: false", "    ci: true"), "Pulumi.dev.yaml: no docker:host, so CI would deploy the site on its runner's own Docker"),
        ("dev", ("    ci: false", "    ci: maybe"), "Pulumi.dev.yaml: o3:site.ci is 'maybe': write true or false"),
        ("harbour-pathology", ("config:\n", "config:\n  kubernetes:kubeconfig: /keys/harbour.kubeconfig\n"),
         "Pulumi.harbour-pathology.yaml: kubernetes:kubeconfig names a file of this machine"),
    ],
)
def test_a_stack_ci_cannot_run_and_that_does_not_opt_out_is_named(fleet_dir, capsys, stack, edit, words):
    path = fleet_dir / f"Pulumi.{stack}.yaml"
    path.write_text(path.read_text().replace(*edit, 1))
    assert stacks.main(["--by-ring", "--dir", str(fleet_dir)]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err, err


def test_the_rollout_compares_each_stack_with_its_last_verified_deploy(fleet_dir):
    """Three pushes, the middle run cancelled: the stacks of the cancelled push are still behind."""
    def commit(msg):
        subprocess.run(["git", "add", "-A"], cwd=fleet_dir, check=True)
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", msg], cwd=fleet_dir, check=True)
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=fleet_dir, capture_output=True, text=True).stdout.strip()

    subprocess.run(["git", "init", "-q"], cwd=fleet_dir, check=True)
    (fleet_dir / "Pulumi.yaml").touch()
    first = commit("the fleet")
    tags = {s: {stacks.TAG_APPLIED: first, stacks.TAG_VERIFIED: first} for s in ALL_CI}
    tags["north-clinic"] = None  # never deployed by CI
    assert bump.main(["--component", "pacs", "--version", "2.9.0", "--site", "harbour-pathology", "--dir", str(fleet_dir)]) == 0
    commit("middle push: its run is cancelled")
    assert bump.main(["--component", "pacs", "--version", "2.9.0", "--site", "riverside", "--dir", str(fleet_dir)]) == 0
    last = commit("last push")
    assert stacks.pending(ALL_CI, fleet_dir, lambda s, _: tags[s]) == ["harbour-pathology", "north-clinic", "riverside"]
    # an up that was not verified (the canary's release never answered) stays pending, even once reverted
    tags["st-marys"] = {stacks.TAG_APPLIED: last, stacks.TAG_VERIFIED: first}
    tags["north-clinic"] = {stacks.TAG_APPLIED: last, stacks.TAG_VERIFIED: last}
    tags["harbour-pathology"] = tags["riverside"] = {stacks.TAG_APPLIED: last, stacks.TAG_VERIFIED: last}
    assert stacks.pending(ALL_CI, fleet_dir, lambda s, _: tags[s]) == ["st-marys"]
    # a recorded commit this history has not got (a force push) counts as nothing deployed
    tags["st-marys"] = {stacks.TAG_APPLIED: "f" * 40, stacks.TAG_VERIFIED: "f" * 40}
    assert stacks.pending(ALL_CI, fleet_dir, lambda s, _: tags[s]) == ["st-marys"]


# --- workflows and Renovate ----------------------------------------------------------------------

ACTIONS = sorted((ROOT / ".github" / "actions").glob("*/action.yml"))
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def _yaml(path: Path):
    return YAML(typ="safe").load(path.read_text())


def test_workflows_and_actions_pass_actionlint_and_shellcheck():
    """actionlint (the version act itself uses, built by scripts/ci-toolchain) over every workflow,
    with shellcheck on their `run:` scripts. actionlint reads the local actions' inputs, not
    their scripts: shellcheck checks those directly, each `${{ ... }}` replaced by a variable."""
    tools = subprocess.run([str(ROOT / "scripts" / "ci-toolchain"), "actionlint"], capture_output=True, text=True)
    assert tools.returncode == 0, tools.stderr[-3000:]
    actionlint = Path(json.loads(tools.stdout)["parts"]["actionlint"]) / "bin" / "actionlint"
    shellcheck = VENV_BIN / "shellcheck"
    out = subprocess.run([str(actionlint), f"-shellcheck={shellcheck}", *map(str, WORKFLOWS)], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    for action in ACTIONS:
        for i, step in enumerate(_yaml(action)["runs"]["steps"]):
            if "run" not in step:
                continue
            script = "#!/bin/bash\nset -eo pipefail\n" + re.sub(r"\$\{\{[^}]*\}\}", "${GITHUB_EXPRESSION}", step["run"])
            out = subprocess.run([str(shellcheck), "-x", "-s", "bash", "-"], input=script, cwd=ROOT, capture_output=True, text=True)
            assert out.returncode == 0, f"{action.relative_to(ROOT)} step {i + 1} ({step.get('name', '')}):\n{out.stdout}"


@pytest.mark.parametrize("schema, paths", [
    ("vendor.github-workflows", [str(p.relative_to(ROOT)) for p in WORKFLOWS]),
    ("vendor.github-actions", [str(p.relative_to(ROOT)) for p in ACTIONS]),
    ("vendor.renovate", ["renovate.json"]),
])
def test_ci_and_renovate_files_match_their_schemas(schema, paths):
    out = subprocess.run([str(VENV_BIN / "check-jsonschema"), "--builtin-schema", schema, *paths], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_up_applies_rings_in_order_and_stops_at_the_first_failure():
    jobs = _yaml(ROOT / ".github/workflows/up.yml")["jobs"]
    assert jobs["canary"]["needs"] == "stacks"
    assert jobs["early"]["needs"] == ["stacks", "canary"]
    assert jobs["broad"]["needs"] == ["stacks", "canary", "early"]
    for ring in ("early", "broad"):
        assert "!failure()" in jobs[ring]["if"] and "!cancelled()" in jobs[ring]["if"]
    for ring in ("canary", "early", "broad"):
        assert f"needs.stacks.outputs.{ring}" in jobs[ring]["strategy"]["matrix"]["stack"]
        assert [s["uses"].split("@")[0] for s in jobs[ring]["steps"]] == ["actions/checkout", "./.github/actions/up-site"]
    steps = _yaml(ROOT / ".github/actions/up-site/action.yml")["runs"]["steps"]
    pulumi = [s for s in steps if str(s.get("uses", "")).startswith("pulumi/actions")]
    # pulumi/actions' `up` skips the preview: a preview with the pack comes first (README, Rollouts)
    assert [(s["with"]["command"], s["with"]["policyPacks"]) for s in pulumi] == [("preview", "policy"), ("up", "policy")]
    verify = steps[-2]
    assert steps.index(pulumi[-1]) == len(steps) - 3, "the site is verified right after its up"
    assert "-m ops.verify --stack" in verify["run"] and verify["env"]["STACK"] == "${{ inputs.stack }}"
    assert "continue-on-error" not in verify and "if" not in verify
    # what is deployed is recorded: the commit before the up, and once verified (ops.stacks --since-deployed)
    marks = [(i, st["run"]) for i, st in enumerate(steps) if "--mark" in st.get("run", "")]
    assert marks == [(steps.index(pulumi[-1]) - 1, '.venv/bin/python -m ops.stacks --mark applied --stack "$STACK"'),
                     (len(steps) - 1, '.venv/bin/python -m ops.stacks --mark verified --stack "$STACK"')]


def test_preview_posts_the_diff_and_drift_expects_no_changes():
    wf = ROOT / ".github/workflows"
    preview = _yaml(wf / "preview.yml")["jobs"]["preview"]["steps"][-1]["with"]
    assert preview["command"] == "preview" and preview["comment-on-pr"] is True and preview["policyPacks"] == "policy"
    drift = _yaml(wf / "drift.yml")
    step = drift["jobs"]["drift"]["steps"][-1]["with"]
    assert step["expect-no-changes"] is True and step["refresh"] is True
    assert "schedule" in drift["on"]


def _pulumi_steps():
    for path in WORKFLOWS + ACTIONS:
        doc = _yaml(path)
        groups = [job.get("steps", []) for job in doc.get("jobs", {}).values()] + [doc.get("runs", {}).get("steps", [])]
        for steps in groups:
            for step in steps:
                if str(step.get("uses", "")).startswith("pulumi/actions"):
                    yield path, step


def test_every_pulumi_step_runs_the_cli_the_toolchain_builds():
    """One version, written once: .pulumi-version, read by scripts/pulumi-toolchain and by every
    pulumi/actions step (which then skips its download when that CLI is on PATH)."""
    found = list(_pulumi_steps())
    assert len(found) >= 4
    for path, step in found:
        assert step["with"].get("pulumi-version-file") == ".pulumi-version", path.name
        assert "pulumi-version" not in step["with"], f"{path.name}: the version is written once, in .pulumi-version"


def test_the_workflows_read_the_outputs_ops_stacks_writes(fleet_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    assert stacks.main(["--github-output", "--dir", str(fleet_dir)]) == 0
    written = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert tuple(written) == stacks.OUTPUTS
    assert json.loads(written["canary"]) == ["st-marys"] and json.loads(written["stacks"]) == ALL_CI
    assert json.loads(written["ids"]) == {"harbour-pathology": "HARBOUR_PATHOLOGY", "north-clinic": "NORTH_CLINIC",
                                          "riverside": "RIVERSIDE", "st-marys": "ST_MARYS"}
    for path in WORKFLOWS:
        jobs = _yaml(path)["jobs"]
        pick = next(s for s in jobs["stacks"]["steps"] if s.get("id") == "pick")
        assert "-m ops.stacks" in pick["run"] and "--github-output" in pick["run"], path.name
        declared = jobs["stacks"]["outputs"]
        for name, value in declared.items():
            read = re.fullmatch(r"\$\{\{ steps\.pick\.outputs\.(\w+) \}\}", value)
            assert read and read[1] in written, f"{path.name}: stacks job output {name} reads {value}"
        used = set(re.findall(r"needs\.stacks\.outputs\.(\w+)", path.read_text()))
        assert used and used <= set(declared), f"{path.name} reads {sorted(used - set(declared))}, not an output of its stacks job"


def test_ops_stacks_refuses_an_empty_ref_and_takes_a_new_branch_whole(fleet_dir, capsys, monkeypatch):
    assert stacks.main(["--changed-since", "", "--dir", str(fleet_dir)]) == 2
    assert "--changed-since is empty" in capsys.readouterr().err
    assert stacks.main(["--changed-since", "0" * 40, "--dir", str(fleet_dir)]) == 0
    assert json.loads(capsys.readouterr().out) == ALL_CI
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    assert stacks.main(["--github-output", "--dir", str(fleet_dir)]) == 2
    assert "$GITHUB_OUTPUT is not set" in capsys.readouterr().err


def test_secrets_come_from_the_ci_secret_store():
    for f in WORKFLOWS:
        text = f.read_text()
        assert "PULUMI_CONFIG_PASSPHRASE: ${{ secrets." in text or "passphrase: ${{ secrets.PULUMI_CONFIG_PASSPHRASE }}" in text, f
    for f in ACTIONS:  # an action gets secrets from its caller, as inputs
        text = f.read_text()
        assert "PULUMI_CONFIG_PASSPHRASE: ${{ inputs.passphrase }}" in text or "PULUMI_CONFIG_PASSPHRASE:" not in text, f
    for f in (ROOT / ".github").rglob("*.yml"):
        text = f.read_text()
        assert not re.search(r"(?i)(passphrase|password|key):\s*['\"]?[A-Za-z0-9+/]{16,}", text), f


def test_renovate_targets_exactly_the_canary_stacks_and_finds_their_images():
    """Holds for any set of shipped stacks: a new canary site needs its line in renovate.json."""
    config = json.loads((ROOT / "renovate.json").read_text())
    manager = config["customManagers"][0]
    canary = {s for s in (p.name[len("Pulumi."):-len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))
              if stacks.ring_of(s, ROOT) == "canary"}
    patterns = [re.compile(p.strip("/")) for p in manager["managerFilePatterns"]]
    matched = {p.name for p in ROOT.glob("Pulumi.*.yaml") if any(r.search(p.name) for r in patterns)}
    wanted = {f"Pulumi.{s}.yaml" for s in canary}
    missing = ", ".join(f'"/^Pulumi\\\\.{n[7:-5]}\\\\.yaml$/"' for n in sorted(wanted - matched))
    assert matched == wanted, (
        f"renovate.json's managerFilePatterns must list exactly the canary stacks (README: Add a site); "
        f"add {missing or 'nothing'}, remove {sorted(matched - wanted) or 'nothing'}")
    regex = re.compile(manager["matchStrings"][0].replace("(?<", "(?P<"))
    for name in sorted(wanted):
        text = (ROOT / name).read_text()
        found = {m["depName"].rsplit("/", 1)[-1] for m in regex.finditer(text)}
        images = YAML(typ="safe").load(text)["config"]["o3:images"]
        expected = {images[c].split(":")[0].rsplit("/", 1)[-1] for c in ("db", "pacs", "view") if c in images}
        assert found == expected, name


def test_renovate_regex_reads_each_image_and_its_tag():
    manager = json.loads((ROOT / "renovate.json").read_text())["customManagers"][0]
    regex = re.compile(manager["matchStrings"][0].replace("(?<", "(?P<"))
    found = {(m["depName"], m["currentValue"]) for m in regex.finditer((SAMPLE_FLEET / "Pulumi.st-marys.yaml").read_text())}
    assert found == {
        ("mysql", "8.0.34"),
        ("europe-west1-docker.pkg.dev/o3-cloud-internal/partner/pacs-cloud", "2.8.1"),
        ("europe-west1-docker.pkg.dev/o3-cloud-internal/partner/view", "3.4.2"),
    }


# --- who may change a site: environments, secrets, pins (what act cannot enforce, read here) -------

DEPLOY_SECRETS = ("PULUMI_BACKEND_URL", "SITE_SSH_KEY", "KUBECONFIG_")  # only in the ring environments
SECRET_REF = re.compile(r"secrets\.(\w+)|secrets\[format\('(\w+)\{0\}'")


def _secrets_named(node) -> set[str]:
    return {a or b for a, b in SECRET_REF.findall(json.dumps(node))}


def test_every_deploying_job_names_its_rings_environment_and_waits_for_its_site():
    jobs = _yaml(ROOT / ".github/workflows/up.yml")["jobs"]
    for ring in ("canary", "early", "broad"):
        job = jobs[ring]
        assert job["environment"] == ring, f"up.yml job {ring}: environment must be {ring}"
        assert job["concurrency"] == {"group": "o3-site-${{ matrix.stack }}", "cancel-in-progress": False}
    for name, job in jobs.items():  # no job gets a deploy secret outside a ring's environment
        if _secrets_named(job) & set(DEPLOY_SECRETS) or "KUBECONFIG_" in _secrets_named(job):
            assert job.get("environment") in ("canary", "early", "broad"), f"up.yml job {name}"
    drift = _yaml(ROOT / ".github/workflows/drift.yml")["jobs"]["drift"]
    assert drift["environment"] == "drift" and drift["concurrency"]["group"] == "o3-site-${{ matrix.stack }}"
    # the rollout compares with what is deployed, never with the push's `before`
    assert "github.event.before" not in json.dumps(jobs)
    assert "--since-deployed" in jobs["stacks"]["steps"][-1]["run"]


@pytest.mark.parametrize("workflow", ["preview.yml", "drift.yml"])
def test_no_job_a_pull_request_or_the_nightly_check_runs_names_a_deploy_secret(workflow):
    doc = _yaml(ROOT / ".github/workflows" / workflow)
    for name, job in doc["jobs"].items():
        named = _secrets_named(job)
        assert not {s for s in named if s.startswith(DEPLOY_SECRETS)}, f"{workflow} job {name} names {sorted(named)}"
        if named - {"GITHUB_TOKEN"}:
            assert job.get("environment") in ("preview", "drift"), f"{workflow} job {name} gets secrets outside its environment"
    assert "secrets." not in json.dumps(doc["jobs"]["stacks"]), "the pick runs the pull request's code: no secret"
    if workflow == "preview.yml":
        assert doc["jobs"]["preview"]["environment"] == "preview"  # a maintainer approves before any secret


def _uses():
    for path in WORKFLOWS + ACTIONS:
        for line in path.read_text().splitlines():
            m = re.match(r"\s*(?:- )?uses: (\S+)(.*)$", line)
            if m and not m[1].startswith("./"):
                yield path.relative_to(ROOT), m[1], m[2].strip()


def test_every_checkout_keeps_no_credentials_and_every_action_is_pinned_by_commit():
    pins = dict(line.split("=", 1) for line in (ROOT / "scripts/ci-toolchain.versions").read_text().splitlines()
                if line and not line.startswith("#"))
    commits = {pins[k].split("@")[0]: (pins[k + "_COMMIT"], pins[k].split("@")[1].split("=")[0])
               for k in pins if re.fullmatch(r"ACTION_\d+", k)}
    found = list(_uses())
    assert len(found) >= 8
    for where, ref, comment in found:
        repo, _, sha = ref.partition("@")
        assert re.fullmatch(r"[0-9a-f]{40}", sha), f"{where}: {ref} is not pinned by commit"
        assert repo in commits and sha == commits[repo][0], f"{where}: {ref}: act has no local copy of that commit"
        tag = re.fullmatch(r"# (v[0-9.]+)", comment)
        assert tag and tag[1].startswith(commits[repo][1]), f"{where}: {ref} needs its tag in a comment (# v1.2.3)"
    for path in WORKFLOWS:
        for name, job in _yaml(path)["jobs"].items():
            for step in job["steps"]:
                if str(step.get("uses", "")).startswith("actions/checkout@"):
                    assert step.get("with", {}).get("persist-credentials") is False, f"{path.name} job {name}"


def test_renovate_keeps_the_action_pins_current():
    config = json.loads((ROOT / "renovate.json").read_text())
    assert "github-actions" in config["enabledManagers"]
    rule = next(r for r in config["packageRules"] if r.get("matchManagers") == ["github-actions"])
    assert rule["pinDigests"] is True
