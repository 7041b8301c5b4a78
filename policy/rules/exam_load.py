from typing import Any, Callable

from pulumi_policy import EnforcementLevel, PolicyConfigSchema, StackValidationPolicy

from ._sizing import SCHEMA, site_requirements


def validate(args: Any, report: Callable) -> None:
    got = site_requirements(args, report)
    if got is None:
        return
    site, _, req = got
    if req.high_exam_load:
        report(f"site {site}: {req.high_exam_load}. Fix: size the host above the minimums (more cores and RAM "
               "for the PACS) and record it in o3:host.")


POLICY = StackValidationPolicy(
    name="o3-exam-load",
    description="The vendor's sizing table holds for fewer than 150 exams a day of 200 images (config examsPerDayLimit).",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=validate,
    config_schema=PolicyConfigSchema(properties=SCHEMA),
)
