"""Seed programs: one file each, a small faithful re-implementation of a named memory system."""
from __future__ import annotations

from pathlib import Path

SEED_DIR = Path(__file__).parent


def seed_names() -> list[str]:
    return sorted(p.stem for p in SEED_DIR.glob("*.py") if p.stem != "__init__")


def seed_source(name: str) -> str:
    path = SEED_DIR / f"{name}.py"
    if not path.is_file():
        raise KeyError(f"unknown seed {name!r} (known: {', '.join(seed_names())})")
    return path.read_text(encoding="utf-8")


def seed_summary(name: str) -> str:
    """First line of the seed's docstring."""
    import ast

    doc = ast.get_docstring(ast.parse(seed_source(name))) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""
