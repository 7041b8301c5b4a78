"""The project's GitHub Actions workflows run for real: scripts/run-workflow (nektos/act, the
README's command) runs the workflow files of a git repository the tests make, with the jobs on
this machine, the real actions (../shared/actions, pulumi/actions' bundle built from its sources)
and the real Pulumi CLI, against site hosts in network namespaces.

What differs from GitHub's hosted runners is in docs/workflows.md ("Run a workflow locally"); here, in
addition, GitHub's API is a small server on loopback that records what pulumi/actions posts on
the pull request (GITHUB_API_URL), and events are JSON files on a repository whose history the
test makes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional

from e2e_harness import ROOT

REPOSITORY = "o3-hospitals/o3-site"  # github.repository of the test repository
CI_TOOLCHAIN = ROOT / "scripts" / "ci-toolchain"


def ci_tools(*parts: str) -> dict[str, Any]:
    """scripts/ci-toolchain's parts (built or reused) and act's --local-repository arguments."""
    out = subprocess.run([str(CI_TOOLCHAIN), *parts], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"scripts/ci-toolchain {' '.join(parts)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout)


class GitHubApi:
    """GitHub's REST API as far as pulumi/actions' `comment-on-pr` uses it: list and create
    comments on a pull request. Comments are kept in `comments` (path, body)."""

    def __init__(self):
        self.comments: list[tuple[str, str]] = []
        api = self

        class ApiHandler(BaseHTTPRequestHandler):
            def _reply(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                self._reply(200, [] if self.path.split("?")[0].endswith("/comments") else {})

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                api.comments.append((self.path, body.get("body", "")))
                self._reply(201, {"id": len(api.comments), "body": body.get("body", "")})

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), ApiHandler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Job:
    """One job of a run as act reported it: its id, matrix values, log lines and result."""
    job_id: str
    name: str
    matrix: dict[str, Any]
    lines: list[str] = field(default_factory=list)
    ended: bool = False
    failed_steps: list[str] = field(default_factory=list)

    @property
    def result(self) -> Optional[str]:
        """success / failure (None: it never ended). From the job's own steps: act keeps one
        result for a whole matrix, so a matrix job that ends after a failed one reports
        "failure" too, where GitHub reports each job of a matrix on its own."""
        if not self.ended:
            return None
        return "failure" if self.failed_steps else "success"

    @property
    def log(self) -> str:
        return "\n".join(self.lines)


@dataclass
class WorkflowRun:
    workflow: str
    returncode: int
    jobs: list[Job]
    output: str
    seconds: float

    def of(self, job_id: str) -> list[Job]:
        return [j for j in self.jobs if j.job_id == job_id]

    def by_stack(self, job_id: str) -> dict[str, Job]:
        return {j.matrix.get("stack"): j for j in self.of(job_id)}

    def one(self, job_id: str) -> Job:
        jobs = self.of(job_id)
        assert len(jobs) == 1, f"{self.workflow}: expected one {job_id} job, got {[j.name for j in jobs]}"
        return jobs[0]

    def outputs(self, job_id: str) -> dict[str, str]:
        """The step outputs a job set (act logs each `name=value` it reads from GITHUB_OUTPUT)."""
        found = {}
        for line in self.one(job_id).lines:
            if "::set-output:: " in line:
                key, _, value = line.split("::set-output:: ", 1)[1].partition("=")
                found[key] = value
        return found

    def describe(self) -> str:
        return f"{self.workflow}: exit {self.returncode}; " + ", ".join(f"{j.name}={j.result}" for j in self.jobs)

    def report(self, lines: int = 60) -> str:
        """For assertion messages: the jobs and the end of each failed job's log."""
        failed = [j for j in self.jobs if j.result != "success"]
        return self.describe() + "".join(f"\n--- {j.name}:\n" + "\n".join(j.lines[-lines:]) for j in failed)


def parse_act_json(text: str) -> list[Job]:
    """Jobs from act's --json log: every line carries its job, jobID and matrix; a job's last line
    carries jobResult."""
    jobs: dict[tuple[str, str], Job] = {}
    for raw in text.splitlines():
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(entry, dict) or "jobID" not in entry:
            continue
        key = (entry["jobID"], json.dumps(entry.get("matrix") or {}, sort_keys=True))
        job = jobs.setdefault(key, Job(entry["jobID"], entry.get("job", "").strip(), entry.get("matrix") or {}))
        msg = str(entry.get("msg", "")).rstrip("\n")
        if msg:
            job.lines.append(msg)
        if entry.get("stepResult") == "failure":
            job.failed_steps.append(msg)
        if entry.get("jobResult"):
            job.ended = True
    return list(jobs.values())


class Act:
    """scripts/run-workflow (the README's command) on a repository folder, with a fixed set of
    secrets and GitHub's API on loopback."""

    def __init__(self, work: Path, secrets: dict[str, str], api: GitHubApi):
        ci_tools("act", "node", "pulumi-actions")  # built once here, so a run's time is the run's
        self.work = work
        self.secrets_file = work / "secrets.yml"
        self.secrets_file.write_text(json.dumps(secrets, indent=1))  # JSON is YAML; act reads .yml files as YAML
        self.secrets_file.chmod(0o600)
        self.secret_values = [v for v in secrets.values() if v]
        self.api = api
        keep = {k: v for k, v in os.environ.items()
                if not k.startswith(("PULUMI", "DOCKER_", "GITHUB_", "RUNNER_", "ACT", "O3_TEST", "O3_DOCKERD"))
                and k != "O3_TESTS_REQUIRED"}
        self.env = {**keep, "O3_ACT_CACHE": str(work / "act-cache"), "XDG_CONFIG_HOME": str(work / "xdg"),
                    "O3_THIRD_PARTY": os.environ.get("O3_THIRD_PARTY") or str(ROOT.parent / "shared" / "third_party"),
                    "O3_ACTIONS_DIR": os.environ.get("O3_ACTIONS_DIR") or str(ROOT.parent / "shared" / "actions"),
                    "NO_COLOR": "1"}

    def command(self, repo: Path, workflow: str, event: str, event_file: Path) -> list[str]:
        return [str(repo / "scripts" / "run-workflow"), workflow.removesuffix(".yml"), event, str(event_file),
                str(self.secrets_file), "--json", "--env", f"GITHUB_REPOSITORY={REPOSITORY}", "--env", f"GITHUB_API_URL={self.api.url}"]

    def run(self, repo: Path, workflow: str, event: str, payload: dict[str, Any], timeout: int = 1800) -> WorkflowRun:
        event_file = self.work / f"event-{event}-{time.monotonic_ns()}.json"
        event_file.write_text(json.dumps(payload))
        start = time.monotonic()
        out = subprocess.run(self.command(repo, workflow, event, event_file), cwd=repo, env=self.env,
                             capture_output=True, text=True, timeout=timeout)
        seconds = time.monotonic() - start
        (self.work / f"act-{workflow}-{time.monotonic_ns()}.log").write_text(out.stdout + out.stderr)
        run = WorkflowRun(workflow, out.returncode, parse_act_json(out.stdout), out.stdout + out.stderr, seconds)
        print(f"\n[figures] {workflow} on {event}: {seconds:.0f} s, {run.describe()}")
        leaked = [i for i, s in enumerate(self.secret_values) if any(part in run.output for part in secret_parts(s))]
        assert not leaked, f"{workflow}: act's output shows secret #{leaked[0]} (or a line of it)"
        return run


def secret_parts(secret: str) -> list[str]:
    """A secret and each substantial line of it (act masks a multi-line secret as a whole only)."""
    return [secret] + [line for line in secret.splitlines() if len(line.strip()) >= 16 and "-----" not in line]


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                         env={**os.environ, "GIT_AUTHOR_NAME": "o3 tests", "GIT_AUTHOR_EMAIL": "tests@o3.invalid",
                              "GIT_COMMITTER_NAME": "o3 tests", "GIT_COMMITTER_EMAIL": "tests@o3.invalid"})
    if out.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {out.stderr}")
    return out.stdout.strip()


def copy_project(dest: Path) -> None:
    """The project's files as a checkout has them (tracked and new files; nothing ignored), without
    the shipped site stacks: the tests' fleet replaces them."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if not src.is_file() or (name.startswith("Pulumi.") and name != "Pulumi.yaml" and "/" not in name):
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / name)
