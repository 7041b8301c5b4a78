"""Every image is pinned to one version: no missing tag, no `latest`, no `{X.Y.Z}` placeholder."""

from typing import Any, Callable

from pulumi_policy import EnforcementLevel, ResourceValidationPolicy

from sitespec import imageref

from .common import REMOTE_IMAGE, known


def validate(args: Any, report: Callable) -> None:
    if args.resource_type != REMOTE_IMAGE:
        return
    ref = known(args.props, "name", "")
    problem = imageref.pin_problem(ref)
    if problem:
        report(f"{problem}. Fix: set o3:images to the exact version your O3 contact gave you "
               "(e.g. ...:2.8.1, or pin a digest with @sha256:...).")


POLICY = ResourceValidationPolicy(
    name="o3-pinned-images",
    description="Images are pinned: an upgrade must be a reviewed version change, never a moving tag.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=validate,
)
