"""What an operator runs: sizing, preflight, version bumps, the fleet view, which stacks CI runs.

Each command reads `sitespec` (the site's domain) and never a Pulumi component module."""
