"""The exam load the vendor's sizing table holds for."""

from typing import Any

from pulumi_policy import EnforcementLevel

from sitespec.facts import SiteFacts

from ._rule import Report, Rule
from ._sizing import CONFIG, requirements

REMEDIATION = "size the site above the minimums (more cores and RAM for the PACS) and record it in the stack config."


def check(site: SiteFacts, report: Report, cfg: dict[str, Any]) -> None:
    got = requirements(site, report, cfg)
    if got is not None and got[1].high_exam_load:
        report(f"site {got[0].site}: {got[1].high_exam_load}. Fix: {REMEDIATION}")


RULE = Rule(
    name="o3-exam-load",
    enforcement=EnforcementLevel.ADVISORY,
    description="The vendor's sizing table holds for fewer than 150 exams a day of 200 images.",
    remediation=REMEDIATION,
    check=check,
    config={"examsPerDayLimit": CONFIG["examsPerDayLimit"]},
)
