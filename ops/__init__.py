"""Day-2 commands for a fleet of sites: which stacks CI should run, version bumps, the fleet view."""
