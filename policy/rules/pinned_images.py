"""Every image is pinned to one version: no missing tag, no `latest`, no `{X.Y.Z}` placeholder."""

from typing import Any

from pulumi_policy import EnforcementLevel

from sitespec import imageref
from sitespec.facts import SiteFacts

from ._rule import Report, Rule

REMEDIATION = ("set o3:images to the exact version your O3 contact gave you "
               "(e.g. ...:2.8.1, or pin a digest with @sha256:...).")


def check(site: SiteFacts, report: Report, cfg: dict[str, Any]) -> None:
    for image in site.images:
        problem = imageref.pin_problem(image.ref)
        if problem:
            report(f"{problem}. Fix: {REMEDIATION}", image.urn)


RULE = Rule(
    name="o3-pinned-images",
    enforcement=EnforcementLevel.MANDATORY,
    description="Images are pinned: an upgrade must be a reviewed version change, never a moving tag.",
    remediation=REMEDIATION,
    check=check,
    per_resource=True,
)
