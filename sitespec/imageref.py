"""Docker image references: parsing shared by the config, the policy pack and the bump tooling.

Standard library only (the policy pack imports it in its own virtualenv).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

# name[:tag][@digest], the grammar of distribution/reference (simplified).
IMAGE_REF = re.compile(
    r"^(?P<name>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)


@dataclass(frozen=True)
class ImageRef:
    name: str
    tag: Optional[str]
    digest: Optional[str]

    @property
    def repository(self) -> str:
        """Last path component, e.g. 'mysql' or 'pacs-cloud'."""
        return self.name.rsplit("/", 1)[-1]


def parse(ref: str) -> Optional[ImageRef]:
    """The parts of a reference, or None when it is not one (e.g. still holds `{X.Y.Z}`)."""
    m = IMAGE_REF.match(ref)
    return ImageRef(m.group("name"), m.group("tag"), m.group("digest")) if m else None


def version_of(ref: str) -> str:
    """The tag (or the digest's start) a reference pins, e.g. '2.8.1'; 'unknown' when unparsable."""
    parsed = parse(ref)
    return (parsed.tag or (parsed.digest or "")[:19]) if parsed else "unknown"


def has_placeholder(ref: str) -> bool:
    return "{" in ref or "}" in ref


def pin_problem(ref: str) -> Optional[str]:
    """Why `ref` is not pinned to one version, or None when it is."""
    if has_placeholder(ref):
        return f"'{ref}' still holds the guide's {{X.Y.Z}} placeholder"
    parsed = parse(ref)
    if parsed is None:
        return f"'{ref}' is not a valid image reference"
    if parsed.digest:
        return None
    if parsed.tag is None:
        return f"'{ref}' has no tag, so Docker pulls whatever 'latest' is that day"
    if parsed.tag == "latest":
        return f"'{ref}' uses the moving 'latest' tag"
    return None
