"""CLI command modules; each registers its commands on `evolve.cli.app` when imported."""
