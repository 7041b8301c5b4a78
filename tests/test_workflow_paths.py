"""The CI workflows start on every change to a site's program. Their `paths:` filters are a copy of
ops.stacks.PROGRAM_PATHS; a path missing there (as sitespec/ once was) means a change to every
site that no preview shows for review and no ring applies."""

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from ops.stacks import workflow_paths

WORKFLOWS = Path(__file__).resolve().parent.parent / ".github" / "workflows"


@pytest.mark.parametrize("workflow, event", [("preview.yml", "pull_request"), ("up.yml", "push")])
def test_workflow_path_filter_is_the_program_paths(workflow, event):
    doc = YAML(typ="safe").load((WORKFLOWS / workflow).read_text())
    assert sorted(doc["on"][event]["paths"]) == workflow_paths(), (
        f".github/workflows/{workflow}: set on.{event}.paths to {workflow_paths()} (ops/stacks.py PROGRAM_PATHS)")
