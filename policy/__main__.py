"""Entry point the Pulumi CLI runs for `--policy-pack policy`. The PolicyPack constructor starts
the analyzer server and blocks, so the rules live in `policy/rules/` (each module found there is
one rule) where tests import them."""

import sys
from pathlib import Path

# The rules share the sizing table with the program: make the repo's packages importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policy.rules import ALL, PACK_NAME  # noqa: E402

PolicyPack(name=PACK_NAME, enforcement_level=EnforcementLevel.MANDATORY, policies=ALL)
