"""Everything the HTML report shows, collected from the store as plain JSON-ready data."""
from __future__ import annotations

import difflib
from typing import Any, Callable

from evolve.pareto import hypervolume, non_dominated_sort, orient
from evolve.reference import campaign_reference
from evolve.store import Store
from evolve.views import headline, lineage_graph, stored_config


def hypervolume_over_time(store: Store, objectives: list[tuple[str, str]], stage: str,
                          ref: tuple[float, ...]) -> list[dict[str, Any]]:
    """Hypervolume of the front after each final-stage evaluation, in finishing order, against the
    campaign's fixed reference (the one `run` and `status` use), so the curve never goes down."""
    evs = sorted((e for e in store.evaluations(stage) if e.status == "ok"
                  and all(m in e.metrics for m, _ in objectives)), key=lambda e: e.finished_at)
    if not evs:
        return []
    dirs = [d for _, d in objectives]
    points = [orient([e.metrics[m] for m, _ in objectives], dirs) for e in evs]
    start = min(c.created_at for c in store.candidates())
    out, front = [], []
    for e, p in zip(evs, points):
        pts = front + [p]
        front = [pts[i] for i in non_dominated_sort(pts)[0]]
        out.append({"t": e.finished_at - start, "candidate": e.candidate_id, "hv": hypervolume(front, ref)})
    return out


def report_data(store: Store, on_step: Callable[[str], None] = lambda step: None) -> dict[str, Any]:
    config = stored_config(store)
    objectives = [(o.metric, o.direction) for o in config.objectives]
    stage = config.task.cascade[-1]
    graph = lineage_graph(store)
    on_step("lineage")
    codes = {c.id: c.code for c in store.candidates()}
    for node in graph["nodes"]:
        node["code"] = codes[node["id"]]
        parent = node["parents"][0] if node["parents"] else None
        node["diff"] = "".join(difflib.unified_diff(codes[parent].splitlines(True), node["code"].splitlines(True),
                                                    f"{parent}.py", f"{node['id']}.py", n=2)) if parent else ""
        on_step("node")
    curve = hypervolume_over_time(store, objectives, stage, campaign_reference(store, config))
    on_step("hypervolume")
    return {"campaign": config.name, "task": config.task.name, "stage": stage,
            "objectives": [{"metric": m, "direction": d} for m, d in objectives],
            "nodes": graph["nodes"], "edges": graph["edges"], "hypervolume": curve,
            "evaluations": len(store.evaluations()), "llm": store.llm_totals(),
            "headline": headline(store, str(store.path.parent))}
