"""`memarch report`, and the file-writing halves of `lineage --format` and `export`, with progress bars."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from evolve.choose import ChoiceError
from evolve.cli import RUN_ARG, RUNS, app, console, pick_run, user_errors
from evolve.store import Store, StoreError
from evolve.views import choice, lineage_dot, lineage_graph

LINEAGE_FORMATS = ("tree", "dot", "json", "html")


def _bar() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True)


def write_report(store: Store, output: Path, sections: tuple[str, ...] = ("front", "hypervolume", "lineage")) -> Path:
    from evolve.report import build_report

    with _bar() as bar:
        task = bar.add_task("building report", total=store.count_candidates() + 2)
        return build_report(store, output, lambda step: bar.advance(task), sections)


@app.command(epilog="Example: memarch report quickstart -o quickstart.html")
@user_errors
def report(run: Optional[str] = RUN_ARG,
           output: Path = typer.Option(Path("report.html"), "-o", "--output", metavar="FILE",
                                       help="HTML file to write."),
           runs_dir: Path = RUNS) -> None:
    """One self-contained HTML page: the front, hypervolume over time, and a clickable lineage graph."""
    path = write_report(Store.open(pick_run(run, runs_dir)), output)
    console.print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


def lineage_export(store: Store, candidate: Optional[str], fmt: str, output: Optional[Path]) -> None:
    if fmt not in LINEAGE_FORMATS:
        raise StoreError(f"--format {fmt!r}: choose one of {', '.join(LINEAGE_FORMATS)}")
    if fmt == "html":
        if output is None:
            raise StoreError("--format html needs -o FILE.html")
        from evolve.report import render_page, report_data

        data = report_data(store)
        if candidate is not None:  # keep the ancestry only
            keep = {n["id"] for n in lineage_graph(store, candidate)["nodes"]}
            data["nodes"] = [n for n in data["nodes"] if n["id"] in keep]
            data["edges"] = [e for e in data["edges"] if e["from"] in keep and e["to"] in keep]
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(render_page(data, ("lineage",)), encoding="utf-8")
        console.print(f"wrote {output}")
        return
    graph = lineage_graph(store, candidate)
    text = lineage_dot(graph) if fmt == "dot" else json.dumps(graph, indent=1) + "\n"
    if output is None:
        print(text, end="")  # plain stdout: pipe it into `dot -Tsvg` or `jq`
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}")


def export_command(store: Store, candidate: Optional[str], output: Path, whole_front: bool,
                   within: Sequence[str] = ()) -> None:
    from evolve.export import export_candidate, export_front

    if [whole_front, candidate is not None, bool(within)].count(True) != 1:
        raise StoreError("export: name one CANDIDATE, pass --front, or pass --within (exactly one of them)")
    if within:
        picked = choice(store, within)
        if picked.pick is None:
            raise ChoiceError(f"export: nothing measured at the last stage meets {picked.describe()}")
        candidate = picked.pick
        console.print(f"best within {picked.describe()}: {candidate}", highlight=False, markup=False)
    if candidate is not None:
        path = export_candidate(store, candidate, output)
        console.print(f"wrote {path} and {path.with_name(path.stem + '.card.md').name}")
        return
    if output.suffix == ".py":
        raise StoreError("export --front: -o must be a directory (one module per program)")
    with _bar() as bar:
        task = bar.add_task("exporting the front", total=None)
        paths = export_front(store, output, lambda cid: bar.advance(task))
    for p in paths:
        console.print(f"wrote {p}")
