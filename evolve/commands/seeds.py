"""`memarch seeds` (list the seed programs) and `memarch eval PROGRAM --task T` (measure one program).

Both are plain functions returning the process exit code (0 fine, 1 the program crashed, timed
out or ran out of memory, 2 a cause the user can fix: an unknown seed, a missing file, a program
that does not validate (syntax, contract, imports), bad JSON, an unknown task or backend); the CLI
registers them. Errors are one line on stderr.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from rich.console import Console
from rich.table import Table

from evolve.terminal import print_error

# What a person reads first; everything else in Result.metrics follows in name order.
HEADLINE = ("recall", "recall_all", "session_recall", "ndcg", "mrr", "abstain_empty", "tokens", "empty_rate",
            "latency_ms", "ingest_ms_p50", "records", "llm_calls")


def seeds_command(console: Optional[Console] = None) -> int:
    from design_space.seeds import seed_names, seed_source, seed_summary
    from evolve.operators.knobs import read_knobs

    console = console or Console()
    table = Table(title="seed programs (memarch eval NAME --task synthetic)")
    table.add_column("seed", style="bold")
    table.add_column("what it is")
    table.add_column("knobs")
    for name in seed_names():
        knobs = ", ".join(f"{k.name}={k.value!r}" for k in read_knobs(seed_source(name)))
        table.add_row(name, seed_summary(name), knobs)
    console.print(table)
    return 0


def program_source(program: str, runs_dir: Path = Path("runs")) -> str:
    """A seed's source by name, a stored candidate (``RUN:CANDIDATE``), else the file at that path;
    FileNotFoundError names what was tried."""
    from design_space.seeds import seed_names, seed_source

    if program in seed_names():
        return seed_source(program)
    path = Path(program)
    if path.is_file():
        source = path.read_text(encoding="utf-8")
        if _exported(source):
            raise ValueError(f"{program} is a standalone export (it carries its own copy of the contract, so the "
                             "harness cannot check it); evaluate the candidate it came from: memarch eval "
                             "RUN:CANDIDATE (its first line names both)")
        return source
    if ":" in program:
        from evolve.store import Store, StoreError
        from evolve.views import resolve_run

        run, cid = program.rsplit(":", 1)
        store = Store.open(resolve_run(run, runs_dir))
        try:
            return store.candidate(cid).code
        except (KeyError, StoreError) as exc:
            raise FileNotFoundError(f"campaign {run!r} has no candidate {cid!r}") from exc
    raise FileNotFoundError(f"{program!r} is neither a seed ({', '.join(seed_names())}), a stored candidate "
                            "(RUN:CANDIDATE) nor a file")


def _exported(source: str) -> bool:
    """Whether `source` is a module written by `memarch export` (it defines MemoryProgram itself)."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return any(isinstance(node, ast.ClassDef) and node.name == "MemoryProgram" for node in tree.body)


def _embed_cache(task: str, fidelity: str, params: dict, embedder: str, console: Console) -> str:
    """Embed the task's texts once on the trusted side, as a campaign does; "" for hashing (no cache)."""
    from design_space.embedders import EMBEDDERS

    if embedder == "hashing" or embedder.startswith("hashing-"):
        return ""
    if embedder not in EMBEDDERS:
        raise ValueError(f"unknown embedder {embedder!r} (known: {', '.join(EMBEDDERS)})")
    from evolve.campaign_setup import default_cache_dir
    from sandboxes.embed_cache import build, stream_variants
    from sandboxes.tasks import TaskError, get_task

    root = default_cache_dir() / "embeddings"
    try:
        stream = get_task(task).build(params, fidelity, 0)
    except TaskError:
        return str(root)  # the sandbox reports the task error itself
    with console.status(f"embedding {task} texts with {embedder} (once; cache {root})"):
        build(stream.episodes, embedder, root, variants=stream_variants(stream))
    return str(root)


def eval_command(program: str, task: str = "synthetic", fidelity: str = "smoke", params_json: Optional[str] = None,
                 backend: str = "process", console: Optional[Console] = None, embedder: str = "hashing",
                 wall_seconds: float = 120.0, runs_dir: Path = Path("runs")) -> int:
    from evolve.store import StoreError
    from sandboxes.backends import get_sandbox
    from sandboxes.job import Job, Limits

    console = console or Console()
    try:
        if wall_seconds <= 0:
            raise ValueError(f"--timeout must be positive, not {wall_seconds:g}")
        limits = Limits(wall_seconds=wall_seconds, cpu_seconds=max(Limits().cpu_seconds, int(wall_seconds)))
        source = program_source(program, runs_dir)
        params = json.loads(params_json) if params_json else {}
        if not isinstance(params, dict):
            raise ValueError("task parameters must be a JSON object, e.g. '{\"budget_tokens\": 128}'")
        sandbox = get_sandbox(backend)
        cache = _embed_cache(task, fidelity, params, embedder, console)
    except json.JSONDecodeError as exc:
        print_error(f"--params is not valid JSON: {exc.msg} (column {exc.colno})")
        return 2
    except (FileNotFoundError, ValueError, RuntimeError, StoreError) as exc:  # RuntimeError: an embedder's package is missing
        print_error(str(exc))
        return 2
    except OSError as exc:  # a directory, an unreadable file
        print_error(f"{program}: {exc.strerror or exc}")
        return 2
    with console.status(f"evaluating {program} on {task} ({fidelity}) in the {backend} sandbox"):
        result = sandbox.run(Job(program=source, task=task, task_params=params, fidelity=fidelity,
                                 embedder=embedder, embed_cache=cache, limits=limits))
    if result.status == "invalid" and result.error.startswith("task:"):
        print_error(result.error[len("task:"):].strip())
        return 2
    if result.status == "invalid":  # the program does not validate: the user's to fix
        print_error(" ".join(result.error.split()), label=f"{program} is invalid")
        return 2
    if result.status != "ok":
        print_error(result.error.strip() or "no error text", label=result.status)  # the program's traceback
        return 1
    metrics = Table(title=f"{program} on {task} ({fidelity})")
    metrics.add_column("metric")
    metrics.add_column("value", justify="right")
    for key in [k for k in HEADLINE if k in result.metrics] + sorted(set(result.metrics) - set(HEADLINE)):
        metrics.add_row(key, f"{result.metrics[key]:.4g}")
    console.print(metrics)
    if result.per_category:
        cats = Table(title="per category")
        cats.add_column("category")
        cols = [c for c in ("recall", "recall_all", "ndcg", "abstain_empty", "tokens")
                if any(c in v for v in result.per_category.values())]
        for c in cols:
            cats.add_column(c, justify="right")
        for cat, values in result.per_category.items():
            cats.add_row(cat, *(f"{values[c]:.3f}" if c in values else "-" for c in cols))
        console.print(cats)
    if result.error:  # a health warning on an otherwise finished run
        console.print(f"[yellow]warning:[/] {result.error}")
    console.print(f"wall {result.resources.get('wall_s', 0):.2f} s, peak RSS {result.resources.get('max_rss_mb', 0):.0f} MB")
    return 0
