"""The campaign report: one self-contained HTML page (front, hypervolume over time, lineage graph)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from evolve.report.data import report_data
from evolve.report.page import render_page
from evolve.store import Store


def build_report(store: Store, output: Path, on_step: Callable[[str], None] = lambda step: None,
                 sections: tuple[str, ...] = ("front", "hypervolume", "lineage")) -> Path:
    """Write the report to `output` (a file path); returns it."""
    html = render_page(report_data(store, on_step), sections)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(html, encoding="utf-8")
    return output


__all__ = ["build_report", "report_data", "render_page"]
