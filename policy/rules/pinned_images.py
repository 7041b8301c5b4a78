"""Every image is pinned to one version: no missing tag, no `latest`, no `{X.Y.Z}` placeholder."""

from typing import Any, Callable

from pulumi_policy import EnforcementLevel, ResourceValidationPolicy

from sitespec import imageref

from . import _kube
from .common import REMOTE_IMAGE, known


def refs(args: Any) -> list[str]:
    """The image references a resource runs: a Docker RemoteImage's, or a workload's containers'."""
    if args.resource_type == REMOTE_IMAGE:
        return [known(args.props, "name", "")]
    if args.resource_type in _kube.WORKLOADS:
        (w,) = _kube.workloads([args])
        return [known(c, "image", "") for c in _kube.containers(w)]
    return []


def validate(args: Any, report: Callable) -> None:
    for ref in refs(args):
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
