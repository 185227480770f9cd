"""How the search runs: campaign loop, operators, selection, store, CLI."""
