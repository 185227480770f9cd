"""Inspection commands: `status`, `show`, `diff` and `compare` — what a campaign did and why.

All of them only read the campaign database, so they are safe while the campaign runs.
"""
from __future__ import annotations

import difflib
import json
import sys
import time
from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from evolve.cli import RUN_ARG, RUNS, app, console, pick_run, user_errors
from evolve.store import Store
from evolve.terminal import code_view
from evolve.views import final_stage, front_groups, front_rows, front_size, headline, Measured, resolve_run, stored_config

RUN_NAMED = typer.Argument(..., help="Campaign name under --runs-dir, or its directory.")


def _open(run: str | None, runs_dir: Path) -> Store:
    return Store.open(pick_run(run, runs_dir) if run is None else resolve_run(run, runs_dir))


def campaign_status(store: Store, now: float | None = None) -> dict[str, Any]:
    """The numbers behind `memarch status`, as plain data."""
    from evolve.archive import Archive
    from evolve.reference import campaign_reference

    now = time.time() if now is None else now
    config = stored_config(store)
    objectives = [(o.metric, o.direction) for o in config.objectives]
    archive = Archive.load(store, objectives, final_stage(config))
    events = list(store.events())
    done = {d["candidate"] for _t, k, d in events if k == "done"}
    sessions = [t for t, k, _d in events if k == "session_start"]
    ended = [t for t, k, _d in events if k == "session_end"]
    running = bool(sessions) and (not ended or ended[-1] < sessions[-1])
    alive = store.driver_alive()  # None: the driver ran on another host, so we cannot tell
    killed = running and alive is False
    running = running and alive is not False
    start = sessions[-1] if sessions else now
    recent = [t for t, k, _d in events if k == "done" and t >= start]
    total = config.budget.evaluations
    remaining = max(0, total - len(done))
    eta = None
    if running and len(recent) >= 2 and remaining:
        rate = len(recent) / max(1e-9, recent[-1] - start)  # candidates finished per second this session
        eta = remaining / rate
        if config.budget.wall_seconds is not None:
            elapsed = float(store.meta("elapsed_s") or 0.0) + now - start
            eta = min(eta, max(0.0, config.budget.wall_seconds - elapsed))
    per_stage: dict[str, dict[str, int]] = {}
    for ev in store.evaluations():
        per_stage.setdefault(ev.fidelity, {}).setdefault(ev.status, 0)
        per_stage[ev.fidelity][ev.status] += 1
    best = {}
    for k, (m, d) in enumerate(objectives):
        if archive.metrics:
            cid = (max if d == "max" else min)(archive.metrics, key=lambda c: archive.metrics[c][m])
            best[m] = {"candidate": cid, "value": archive.metrics[cid][m], "direction": d}
    return {"name": config.name, "running": running, "killed": killed, "candidates": store.count_candidates(),
            "finished": len(done), "in_flight": store.count_candidates() - len(done), "budget": total,
            "evaluations": sum(sum(s.values()) for s in per_stage.values()), "per_stage": per_stage,
            "front": archive.front(), "front_points": len(front_groups(
                [{"id": c, "rank": 0, **archive.metrics[c]} for c in archive.front()], [m for m, _ in objectives])),
            "hypervolume": archive.hypervolume(campaign_reference(store, config)),
            "best": best, "headline": headline(store, str(store.path.parent), Measured(objectives, archive.metrics, store.seed_ids())),
            "llm": store.llm_totals(), "llm_budget": config.budget.llm_dollars, "eta_s": eta,
            "sessions": len(sessions), "last_activity_s": now - events[-1][0] if events else None,
            "elapsed_s": float(store.meta("elapsed_s") or 0.0)}


def _duration(s: float) -> str:
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


@app.command(epilog="Examples: memarch status | memarch status quickstart --json | jq .hypervolume")
@user_errors
def status(run: Optional[str] = RUN_ARG,
           as_json: bool = typer.Option(False, "--json", help="Print the numbers as JSON."),
           runs_dir: Path = RUNS) -> None:
    """Progress of a campaign: evaluations done and in flight, best per objective, hypervolume, spend, ETA."""
    store = _open(run, runs_dir)
    st = campaign_status(store)
    if as_json:
        console.print_json(json.dumps(st))
        return
    # A session without an end is running, or was killed (kill -9 writes nothing): say how recent it is.
    if st["killed"]:
        state = f"[red]killed[/] (its driver is gone; `memarch resume {store.path.parent}` continues it)"
    elif st["running"]:
        state = f"[green]running[/] (last activity {_duration(st['last_activity_s'])} ago)"
    else:
        state = "stopped"
    console.print(f"[bold]{st['name']}[/] — {state}, {st['sessions']} session(s), {_duration(st['elapsed_s'])} spent")
    console.print(f"candidates finished {st['finished']}/{st['budget']}, in flight or pending {st['in_flight']}, "
                  f"stage evaluations {st['evaluations']}")
    for stage, counts in st["per_stage"].items():
        console.print(f"  {stage}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    size = front_size(st["front_points"], len(st["front"]))
    table = Table(title=f"best per objective ({size}, hypervolume {st['hypervolume']:.4g})")
    for col in ("objective", "best", "candidate"):
        table.add_column(col)
    for m, b in st["best"].items():
        table.add_row(f"{m} ({'↑' if b['direction'] == 'max' else '↓'})", f"{b['value']:.4g}", b["candidate"])
    console.print(table)
    for line in st["headline"]:  # the best program so far at no more cost than the best seed
        console.print(line, markup=False, highlight=False)
    llm = st["llm"]
    cap = f" of ${st['llm_budget']:g}" if st["llm_budget"] is not None else ""
    console.print(f"LLM: {llm['calls']} calls, {llm['prompt_tokens'] + llm['completion_tokens']} tokens, "
                  f"${llm['cost_usd']:.4f}{cap}" + (f", {llm['errors']} failed" if llm["errors"] else ""))
    if st["eta_s"] is not None:
        console.print(f"ETA: {_duration(st['eta_s'])} at this session's rate")
    elif st["running"]:
        console.print("ETA: not enough finished candidates in this session yet")


def _evaluation_table(store: Store, cid: str, objectives: list[str]) -> Table:
    table = Table(title="evaluations")
    for col in ("stage", "status", *objectives, "wall s", "error"):
        table.add_column(col)
    for ev in store.evaluations_of(cid):
        table.add_row(ev.fidelity, ev.status, *(f"{ev.metrics[m]:.4g}" if m in ev.metrics else "-" for m in objectives),
                      f"{ev.resources.get('wall_s', 0):.2f}", escape((ev.error.strip().splitlines() or [""])[-1][:80]))
    return table


def _message_text(request: str) -> str:
    """The prompt text of a recorded request (messages or a plain string)."""
    try:
        data = json.loads(request)
    except (TypeError, ValueError):
        return str(request)
    msgs = data.get("messages", data) if isinstance(data, dict) else data
    if isinstance(msgs, list):
        return "\n\n".join(f"[{m.get('role', '?')}]\n{m.get('content', '')}" if isinstance(m, dict) else str(m)
                           for m in msgs)
    return json.dumps(data, indent=1)


@app.command(epilog="Example: memarch show quickstart c0012 --full | less")
@user_errors
def show(run: str = RUN_NAMED, candidate: str = typer.Argument(..., help="The candidate, e.g. c0012."),
         full: bool = typer.Option(False, "--full", help="Print whole prompts and failure samples."),
         runs_dir: Path = RUNS) -> None:
    """One candidate: code, metrics per stage and category, failures, parents, operator, LLM prompt and reply."""
    store = _open(run, runs_dir)
    config = stored_config(store)
    cand = store.candidate(candidate)
    objectives = [o.metric for o in config.objectives]
    parents = ", ".join(cand.parents) or "none"
    head = f"operator [cyan]{cand.operator}[/], generation {cand.generation}, parents {parents}"
    console.print(Panel(f"{head}\n{escape(cand.note)}", title=f"{cand.id} of {config.name}",
                        expand=console.is_terminal))
    console.print(_evaluation_table(store, cand.id, objectives))
    ev = store.evaluation(cand.id, final_stage(config)) or (store.evaluations_of(cand.id) or [None])[-1]
    if ev is not None and ev.per_category:
        table = Table(title=f"per category ({ev.fidelity})")
        cols = [m for m in objectives if any(m in d for d in ev.per_category.values())]
        for col in ("category", "n", *cols):
            table.add_column(col)
        for cat, d in sorted(ev.per_category.items()):
            table.add_row(cat, f"{d.get('n', 0):g}", *(f"{d[c]:.4g}" if c in d else "-" for c in cols))
        console.print(table)
    if ev is not None and ev.failures:
        lines = []
        for f in ev.failures[: None if full else 3]:
            got = "; ".join(",".join(r.get("source_ids", [])) for r in f.get("returned", [])[:3])
            lines.append(f"[bold]{escape(str(f.get('question', f.get('query_id', '?'))))}[/] "
                         f"({escape(str(f.get('category', '')))})\n"
                         f"  gold: {escape(', '.join(f.get('gold_evidence', {})))}   "
                         f"returned: {escape(got) or 'nothing'}")
        console.print(Panel("\n".join(lines), title=f"failure sample ({len(ev.failures)} recorded)",
                            expand=console.is_terminal))
    console.print(code_view(console, cand.code, "python"))
    calls = store.llm_calls_of(cand.id, cand.prompt_hash)
    for call in calls:
        prompt, reply = _message_text(call["request"]), call["response"]
        if not full:
            prompt = prompt if len(prompt) < 2500 else prompt[:1200] + "\n[...]\n" + prompt[-1200:]
        console.print(Panel(escape(prompt), expand=console.is_terminal,
                            title=f"prompt to {call['model']} ({call['purpose']}, {call['prompt_tokens']} tokens)"))
        console.print(Panel(escape(reply) + (f"\n[red]{escape(call['error'])}[/]" if call["error"] else ""),
                            title=f"reply ({call['completion_tokens']} tokens, ${call['cost_usd']:.4f})",
                            expand=console.is_terminal))
    if not calls and not cand.operator.startswith("seed:"):
        console.print(f"[dim]no LLM call made {cand.id} ({cand.operator} works offline)[/]")


def unified_patch(old: str, new: str, a: str, b: str) -> str:
    """A unified diff `patch` and `git apply` accept, including files without a final newline."""
    def lines(text: str) -> list[str]:
        out = text.splitlines(True)
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n\\ No newline at end of file\n"
        return out

    return "".join(difflib.unified_diff(lines(old), lines(new), f"{a}.py", f"{b}.py"))


def _metric_deltas(store: Store, a: str, b: str) -> tuple[str, list[tuple[str, float, float]]]:
    """The final stage and (metric, A, B) for every metric both ok evaluations share, objectives first."""
    config = stored_config(store)
    stage = final_stage(config)
    ea, eb = store.evaluation(a, stage), store.evaluation(b, stage)
    if not (ea and eb and ea.status == eb.status == "ok"):
        return stage, []
    objectives = [o.metric for o in config.objectives]
    shared = [m for m in objectives if m in ea.metrics and m in eb.metrics]
    shared += sorted(m for m in ea.metrics if m in eb.metrics and m not in objectives)
    return stage, [(m, ea.metrics[m], eb.metrics[m]) for m in shared]


@app.command(epilog="Examples: memarch diff quickstart c0003 c0012 | memarch diff quickstart c0003 c0012 > "
                    "change.patch (then: patch -o new.py old.py change.patch) | memarch diff quickstart c0003 "
                    "c0012 --stat")
@user_errors
def diff(run: str = RUN_NAMED, a: str = typer.Argument(..., help="Candidate A (e.g. the parent)."),
         b: str = typer.Argument(..., help="Candidate B."),
         stat: bool = typer.Option(False, "--stat", help="Only the size of the change and the metric deltas."),
         runs_dir: Path = RUNS) -> None:
    """Unified diff of two candidates' code and the change in every metric they share.

    Piped: a plain patch, metric deltas as `#` lines first (apply: patch -o new.py old.py x.patch).
    """
    store = _open(run, runs_dir)
    ca, cb = store.candidate(a), store.candidate(b)
    text = unified_patch(ca.code, cb.code, a, b)
    stage, deltas = _metric_deltas(store, a, b)
    if stat or not console.is_terminal:
        body = text.splitlines()[2:]
        added = sum(1 for line in body if line.startswith("+"))
        removed = sum(1 for line in body if line.startswith("-"))
        head = [f"# memarch diff {store.path.parent} {a} {b}: {added} line(s) added, {removed} removed"]
        head += ([f"# metrics at {stage}, {a} -> {b}:"]
                 + [f"#   {m}: {x:.4g} -> {y:.4g} ({y - x:+.4g})" for m, x, y in deltas]
                 if deltas else [f"# no metric deltas: both need an ok {stage} evaluation"])
        sys.stdout.write("\n".join(head) + "\n" + ("" if stat else text))
        sys.stdout.flush()
        return
    console.print(code_view(console, text or "(identical code)\n", "diff"))
    if not deltas:
        console.print(f"[dim]no metric deltas: both need an ok `{stage}` evaluation[/]")
        return
    table = Table(title=f"metrics at {stage} ({a} → {b}); objectives first")
    for col in ("metric", a, b, "delta"):
        table.add_column(col, justify="right" if col != "metric" else "left")
    for m, x, y in deltas:
        table.add_row(m, f"{x:.4g}", f"{y:.4g}", f"{y - x:+.4g}")
    console.print(table)


def components_by_stage(code: str) -> dict[str, list[str]]:
    """Which design_space.components modules a program imports, grouped by stage."""
    import libcst as cst

    out: dict[str, list[str]] = {}
    try:
        module = cst.parse_module(code)
    except cst.ParserSyntaxError:
        return out
    for stmt in module.body:
        for small in stmt.body if isinstance(stmt, cst.SimpleStatementLine) else ():
            if isinstance(small, cst.ImportFrom) and small.module is not None:
                name = cst.helpers.get_full_name_for_node(small.module) or ""
                parts = name.split(".")
                if parts[:2] == ["design_space", "components"] and len(parts) >= 4:
                    out.setdefault(parts[2], []).append(parts[3])
    return {k: sorted(set(v)) for k, v in sorted(out.items())}


def compare_runs(s1: Store, s2: Store) -> dict[str, Any]:
    """Both fronts, hypervolumes against one shared reference point, and the winners' structure."""
    from evolve.operators.knobs import read_knobs
    from evolve.pareto import hypervolume
    from evolve.reference import campaign_reference

    c1, a1, r1 = front_rows(s1)
    c2, a2, r2 = front_rows(s2)
    obj1 = [(o.metric, o.direction) for o in c1.objectives]
    obj2 = [(o.metric, o.direction) for o in c2.objectives]
    # Different objectives (e.g. recall on LoCoMo vs accuracy on BANKING77): fronts and structure
    # still compare, hypervolumes do not.
    shared: dict[str, float] | None = None
    if obj1 == obj2 and len(a1) and len(a2):
        # each campaign's own fixed reference; the looser of the two, so both fronts count whole
        ref = tuple(max(x, y) for x, y in zip(campaign_reference(s1, c1), campaign_reference(s2, c2)))
        shared = {c1.name: hypervolume([a1.point(c) for c in a1.metrics], ref),
                  c2.name: hypervolume([a2.point(c) for c in a2.metrics], ref)}
    from evolve.export import distinct_front

    runs = []
    for store, config, rows, obj in ((s1, c1, r1, obj1), (s2, c2, r2, obj2)):
        front = []
        keep = set(distinct_front(rows, [m for m, _ in obj]))  # ties on every objective shown once
        for row in rows:
            if row["id"] not in keep:
                continue
            code = store.candidate(row["id"]).code
            front.append({**row, "knobs": {k.name: k.value for k in read_knobs(code)},
                          "components": components_by_stage(code)})
        runs.append({"name": config.name, "task": config.task.name, "objectives": [m for m, _ in obj],
                     "front": front})
    return {"objectives": [m for m, _ in obj1] if obj1 == obj2 else None, "hypervolume": shared, "runs": runs}


@app.command(epilog="Example: memarch compare locomo-spec banking77-spec")
@user_errors
def compare(run1: str = typer.Argument(..., help="First campaign (name under --runs-dir, or directory)."),
            run2: str = typer.Argument(..., help="Second campaign."),
            as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
            runs_dir: Path = RUNS) -> None:
    """Contrast two campaigns: fronts, hypervolume on a shared reference, winners' knobs and components."""
    cmp = compare_runs(_open(run1, runs_dir), _open(run2, runs_dir))
    if as_json:
        console.print_json(json.dumps(cmp, default=str))
        return
    if cmp["hypervolume"]:
        console.print("hypervolume on a shared reference: "
                      + ", ".join(f"{k} {v:.4g}" for k, v in cmp["hypervolume"].items()))
    for run in cmp["runs"]:
        table = Table(title=f"front of {run['name']} ({run['task']})")
        for col in ("candidate", *run["objectives"], "operator", "components", "knobs"):
            table.add_column(col)
        for row in run["front"]:
            comps = "; ".join(f"{st}: {', '.join(m)}" for st, m in row["components"].items()) or "own code"
            knobs = ", ".join(f"{k}={v}" for k, v in row["knobs"].items())
            table.add_row(row["id"], *(f"{row[m]:.4g}" for m in run["objectives"]), row["operator"], comps,
                          escape(knobs))
        console.print(table)

