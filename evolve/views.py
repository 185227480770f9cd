"""Read-only views of a campaign for people: the front table and the lineage tree."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rich.table import Table
from rich.tree import Tree

from evolve.archive import Archive
from evolve.choose import Bound, choose, parse_bounds
from evolve.config import CampaignConfig, parse_config
from evolve.reference import campaign_reference
from evolve.store import Store, StoreError


def resolve_run(run: str, runs_dir: Path) -> Path:
    """A run is a directory holding campaign.db, or a campaign name under `runs_dir`."""
    for cand in (Path(run), runs_dir / run):
        if (cand / Store.FILE).is_file():
            return cand
    raise StoreError(f"no campaign named or at {run!r} (looked in {Path(run)} and {runs_dir / run})")


def stored_config(store: Store) -> CampaignConfig:
    return parse_config(yaml.safe_load(store.meta("config") or "{}"), f"{store.path}:config")


def front_rows(store: Store) -> tuple[CampaignConfig, Archive, list[dict[str, Any]]]:
    config = stored_config(store)
    objectives = [(o.metric, o.direction) for o in config.objectives]
    archive = Archive.load(store, objectives, config.task.cascade[-1])
    rows = []
    for r in sorted(archive.ranked(), key=lambda r: (r.rank, r.id)):
        cand = store.candidate(r.id)
        rows.append({"id": r.id, "rank": r.rank, "operator": cand.operator, "generation": cand.generation,
                     "parents": list(cand.parents), "note": cand.note,
                     **{m: archive.metrics[r.id][m] for m, _ in objectives}})
    return config, archive, rows


def front_groups(rows: list[dict[str, Any]], objectives: list[str]) -> list[list[str]]:
    """The front as distinct points: rank-0 candidates grouped by their objective values (to 1e-9),
    earliest id first in each group and groups in order of their first id. The size of the front is
    the number of groups, in every view (front, status, plot, report)."""
    groups: dict[tuple, list[str]] = {}
    for row in sorted((r for r in rows if r["rank"] == 0), key=lambda r: r["id"]):
        groups.setdefault(tuple(round(row[m], 9) for m in objectives), []).append(row["id"])
    return list(groups.values())


def front_size(points: int, programs: int) -> str:
    """`5 distinct front points`, plus how many programs share them when some tie."""
    return f"{points} distinct front points" + (f" ({programs} programs, ties folded)" if programs > points else "")


@dataclass(frozen=True)
class Measured:
    """What choosing reads: the objectives, every candidate's metrics at the last stage, the seeds."""
    objectives: list[tuple[str, str]]
    metrics: dict[str, dict[str, float]]
    seeds: dict[str, str]  # seed name -> candidate id

    @classmethod
    def of(cls, store: Store) -> "Measured":
        # No candidate's code is read: `status` calls this on campaigns of 20,000 candidates.
        config = stored_config(store)
        objectives = [(o.metric, o.direction) for o in config.objectives]
        return cls(objectives, Archive.load(store, objectives, config.task.cascade[-1]).metrics, store.seed_ids())


@dataclass(frozen=True)
class Choice:
    """The best program within the user's bounds (evolve/choose.py), and the best seed within them."""
    bounds: list[Bound]
    pick: str | None
    seed: str | None  # candidate id of the best seed that meets the bounds
    measured: Measured

    def describe(self) -> str:
        return " and ".join(str(b) for b in self.bounds)


def choice(store: Store, within: Sequence[str], measured: Measured | None = None) -> Choice:
    m = measured or Measured.of(store)
    bounds = parse_bounds(within, m.objectives, m.metrics, m.seeds)
    seeds = [c for c in m.seeds.values() if c in m.metrics]
    return Choice(bounds, choose(m.metrics, m.objectives, bounds), choose(m.metrics, m.objectives, bounds, among=seeds), m)


def at_best_seeds_cost(measured: Measured) -> list[str]:
    """`--within` bounds that ask for the best program at no more cost than the best seed: every
    minimised objective bounded by the seed that is best on the first maximised objective (ties: the
    other objectives). Empty when the campaign has no seed measured, or not both kinds of objective."""
    objectives = measured.objectives
    if not any(d == "max" for _m, d in objectives) or not any(d == "min" for _m, d in objectives):
        return []
    best = choose(measured.metrics, objectives, [], among=[c for c in measured.seeds.values() if c in measured.metrics])
    if best is None:
        return []
    name = next(n for n, c in measured.seeds.items() if c == best)
    return [f"{m}={name}" for m, d in objectives if d == "min"]


def headline(store: Store, run: str, measured: Measured | None = None) -> list[str]:
    """What `memarch run` prints under its front, `status` under its table and the report under its
    front table: the best program at no more cost than the best seed, or nothing."""
    measured = measured or Measured.of(store)
    within = at_best_seeds_cost(measured)
    return choice_lines(store, choice(store, within, measured), run) if within else []


def choice_lines(store: Store, picked: Choice, run: str) -> list[str]:
    """What `front --within` prints under its table: the pick, the best seed within the same bounds."""
    objectives, measured = picked.measured.objectives, picked.measured.metrics
    names = {c: n for n, c in picked.measured.seeds.items()}
    within = picked.describe()
    if picked.pick is None:
        return [f"nothing measured at the last stage meets {within}"]

    def point(cid: str) -> str:
        held = store.evaluation(cid, "holdout")
        text = ", ".join(f"{m} {measured[cid][m]:.4g}" for m, _d in objectives)
        if held is not None and held.status == "ok":
            text += " (held-out " + ", ".join(f"{m} {held.metrics[m]:.4g}" for m, _d in objectives
                                              if m in held.metrics) + ")"
        return text

    name = names.get(picked.pick)
    lines = [f"best within {within}: {picked.pick}{f' (seed {name})' if name else ''} — {point(picked.pick)}"]
    if picked.seed is None:
        lines.append("no seed meets these bounds")
    elif picked.seed != picked.pick:
        deltas = ", ".join(f"{m} {measured[picked.pick][m] - measured[picked.seed][m]:+.3g}" for m, _d in objectives)
        lines.append(f"best seed within them: {names[picked.seed]} ({picked.seed}) — {point(picked.seed)}; "
                     f"{picked.pick} vs it: {deltas}")
    lines.append(f"export it: memarch export {run} {picked.pick} -o memory.py")
    return lines


def front_table(store: Store, all_ranks: bool = False, bounds: Sequence[Bound] = ()) -> Table:
    """One row per distinct point (candidates tying on every objective are folded into the first),
    with held-out metrics when the campaign measured them; only points within `bounds` if given."""
    config, archive, rows = front_rows(store)
    objectives = [(o.metric, o.direction) for o in config.objectives]
    points: dict[tuple, list[dict]] = {}
    for row in rows:
        if row["rank"] > 0 and not all_ranks:
            continue
        if not all(b.admits(row) for b in bounds):
            continue
        points.setdefault((row["rank"], *(round(row[m], 9) for m, _ in objectives)), []).append(row)
    holdout = {e.candidate_id: e for e in store.evaluations("holdout") if e.status == "ok"}
    groups = front_groups(rows, [m for m, _ in objectives])
    size = front_size(len(groups), sum(len(g) for g in groups))
    table = Table(title=f"front of {config.name} — {len(archive)} evaluated, {size}, "
                        f"hypervolume {archive.hypervolume(campaign_reference(store, config), archive.front()):.4g}")
    table.add_column("candidate")
    table.add_column("rank", justify="right")
    for m, d in objectives:
        table.add_column(f"{m} ({'↑' if d == 'max' else '↓'})", justify="right")
    if holdout:
        for m, _d in objectives:
            table.add_column(f"held-out {m}", justify="right")
    table.add_column("operator")
    table.add_column("parents")
    table.add_column("ties", justify="right")
    for group in points.values():
        row = group[0]
        cells = [row["id"], str(row["rank"]), *(f"{row[m]:.4g}" for m, _ in objectives)]
        if holdout:
            ev = holdout.get(row["id"])
            cells += [f"{ev.metrics[m]:.4g}" if ev and m in ev.metrics else "-" for m, _ in objectives]
        cells += [row["operator"], ",".join(row["parents"]) or "-",
                  f"+{len(group) - 1}" if len(group) > 1 else ""]
        table.add_row(*cells)
    return table


def _label(store: Store, cid: str, objectives, final: str) -> str:
    cand = store.candidate(cid)
    ev = store.evaluation(cid, final)
    if ev is None:
        last = [e for e in store.evaluations() if e.candidate_id == cid]
        state = f"[yellow]{last[-1].status} at {last[-1].fidelity}[/]" if last else "[dim]pending[/]"
        if last and last[-1].status == "ok":
            state = f"[dim]stopped after {last[-1].fidelity}[/]"
    elif ev.status != "ok":
        state = f"[red]{ev.status}[/]"
    else:
        parts = []
        parent_ev = store.evaluation(cand.parents[0], final) if cand.parents else None
        for m, _ in objectives:
            v = ev.metrics.get(m)
            if v is None:
                continue
            text = f"{m}={v:.4g}"
            if parent_ev is not None and parent_ev.status == "ok" and m in parent_ev.metrics:
                text += f" ({v - parent_ev.metrics[m]:+.3g})"
            parts.append(text)
        state = " ".join(parts)
    note = f" — {cand.note}" if cand.note and not cand.operator.startswith("seed:") else ""
    return f"[bold]{cid}[/] [cyan]{cand.operator}[/] {state}{note}"


def lineage_tree(store: Store, cid: str | None = None) -> Tree:
    """Without a candidate: the whole forest from the seeds down. With one: its ancestry, root first."""
    config = stored_config(store)
    objectives = [(o.metric, o.direction) for o in config.objectives]
    final = config.task.cascade[-1]
    cands = {c.id: c for c in store.candidates()}
    if cid is not None:
        chain = []
        cur: str | None = store.candidate(cid).id
        while cur:
            chain.append(cur)
            cur = cands[cur].parents[0] if cands[cur].parents else None
        root = Tree(f"ancestry of {cid}")
        node = root
        for c in reversed(chain):
            extra = cands[c].parents[1:]
            label = _label(store, c, objectives, final) + (f" [dim](also from {', '.join(extra)})[/]" if extra else "")
            node = node.add(label)
        return root
    children: dict[str, list[str]] = {}
    for c in cands.values():
        if c.parents:
            children.setdefault(c.parents[0], []).append(c.id)
    root = Tree(f"lineage of {config.name} ({len(cands)} candidates)")

    def grow(node: Tree, c: str) -> None:
        for k in children.get(c, []):
            grow(node.add(_label(store, k, objectives, final)), k)

    for c in cands.values():
        if not c.parents:
            grow(root.add(_label(store, c.id, objectives, final)), c.id)
    return root


def lineage_edges(store: Store) -> list[tuple[str, str, str]]:
    """(parent, child, operator) for every edge."""
    return [(p, c.id, c.operator) for c in store.candidates() for p in c.parents]


def final_stage(config: CampaignConfig) -> str:
    return config.task.cascade[-1]


def ancestry(store: Store, cid: str) -> list:
    """The first-parent chain of `cid`, root first."""
    chain = []
    seen: set[str] = set()
    cur: str | None = store.candidate(cid).id
    while cur and cur not in seen:
        seen.add(cur)
        cand = store.candidate(cur)
        chain.append(cand)
        cur = cand.parents[0] if cand.parents else None
    return list(reversed(chain))


def lineage_graph(store: Store, cid: str | None = None) -> dict[str, Any]:
    """Plain data for lineage views: nodes (operator, note, state, objective values and deltas to the
    first parent) and edges. With `cid`: only it and its ancestors through every parent."""
    config = stored_config(store)
    objectives = [(o.metric, o.direction) for o in config.objectives]
    final = final_stage(config)
    cands = {c.id: c for c in store.candidates()}
    last: dict[str, Any] = {}
    finals: dict[str, Any] = {}
    for ev in store.evaluations():
        last[ev.candidate_id] = ev
        if ev.fidelity == final:
            finals[ev.candidate_id] = ev
    pruned = {d["candidate"]: d.get("reason", "") for _t, _k, d in store.events("pruned")}
    front = set(Archive.load(store, objectives, final).front())
    keep = set(cands)
    if cid is not None:
        keep, work = set(), [store.candidate(cid).id]
        while work:
            c = work.pop()
            if c not in keep:
                keep.add(c)
                work.extend(cands[c].parents)
    nodes = []
    for c in cands.values():
        if c.id not in keep:
            continue
        ev, lv = finals.get(c.id), last.get(c.id)
        if ev is not None and ev.status == "ok":
            state = "front" if c.id in front else "ok"
        elif lv is None:
            state = "pending"
        elif lv.status != "ok":
            state = lv.status
        else:
            state = "pruned" if c.id in pruned else "running"
        values = {m: ev.metrics[m] for m, _ in objectives if ev is not None and ev.status == "ok" and m in ev.metrics}
        pv = finals.get(c.parents[0]) if c.parents else None
        deltas = {m: v - pv.metrics[m] for m, v in values.items()
                  if pv is not None and pv.status == "ok" and m in pv.metrics}
        nodes.append({"id": c.id, "operator": c.operator, "note": c.note, "parents": list(c.parents),
                      "generation": c.generation, "state": state, "stage": lv.fidelity if lv else "",
                      "error": (lv.error.strip().splitlines() or [""])[-1][:200] if lv and lv.status != "ok" else "",
                      "pruned": pruned.get(c.id, ""), "metrics": values, "deltas": deltas,
                      "created_at": c.created_at})
    edges = [{"from": p, "to": n["id"], "operator": n["operator"]} for n in nodes for p in n["parents"] if p in keep]
    return {"campaign": config.name, "objectives": [{"metric": m, "direction": d} for m, d in objectives],
            "final_stage": final, "focus": cid, "nodes": nodes, "edges": edges}


_DOT_COLOURS = {"front": "gold", "ok": "palegreen", "pruned": "lightgrey", "pending": "white", "running": "lightblue"}


def lineage_dot(graph: dict[str, Any]) -> str:
    """Graphviz source: one box per candidate (operator, values, deltas), edges parent -> child."""
    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace('"', '\\"')

    out = [f'digraph "{esc(graph["campaign"])}" {{', "  rankdir=TB;", '  node [shape=box, style=filled, fontsize=10];']
    for n in graph["nodes"]:
        vals = " ".join(f"{m}={v:.4g}" + (f" ({n['deltas'][m]:+.3g})" if m in n["deltas"] else "")
                        for m, v in n["metrics"].items())
        label = f"{n['id']} {n['operator']}\\n{esc(vals or n['state'])}"
        if n["note"] and not n["operator"].startswith("seed:"):
            label += "\\n" + esc(n["note"][:60])
        out.append(f'  {n["id"]} [label="{label}", fillcolor="{_DOT_COLOURS.get(n["state"], "salmon")}"];')
    for e in graph["edges"]:
        out.append(f'  {e["from"]} -> {e["to"]} [label="{esc(e["operator"])}", fontsize=8];')
    out.append("}")
    return "\n".join(out) + "\n"


def label_offsets(anchors: list[tuple[float, float]], labels: list[str], size: float) -> list[tuple[float, float]]:
    """Text offsets (points) that keep labels of nearby points from printing over each other: each
    label sits up and right of its point, moved up a line at a time past the labels already placed."""
    width, height = 0.6 * size, 1.25 * size  # a character's width and a line's height, in points
    placed: list[tuple[float, float, float, float]] = []  # x0, y0, x1, y1 of each placed label
    out = []
    for (ax_, ay), label in zip(anchors, labels):
        dy = 3.0
        while True:
            box = (ax_ + 3.0, ay + dy, ax_ + 3.0 + width * len(label), ay + dy + height)
            if not any(box[0] < p[2] and p[0] < box[2] and box[1] < p[3] and p[1] < box[3] for p in placed):
                break
            dy += height
        placed.append(box)
        out.append((3.0, dy))
    return out


def front_plot(store: Store, path: Path) -> Path:
    """Scatter of every evaluated candidate on the first two objectives, the front joined as a step line."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise StoreError("--plot needs matplotlib: pip install matplotlib") from None
    config, archive, rows = front_rows(store)
    objectives = [(o.metric, o.direction) for o in config.objectives]
    if len(objectives) < 2 or not rows:
        raise StoreError(f"{config.name}: a front plot needs two objectives and at least one evaluated candidate")
    (mx, dx), (my, dy) = objectives[:2]
    fig, ax = plt.subplots(figsize=(7, 5), dpi=110)
    rest = [r for r in rows if r["rank"] > 0]
    front = sorted((r for r in rows if r["rank"] == 0), key=lambda r: r[mx])
    ax.scatter([r[mx] for r in rest], [r[my] for r in rest], c="#9aa5b1", s=18, label="dominated")
    ax.scatter([r[mx] for r in front], [r[my] for r in front], c="#d9480f", s=36, label="front", zorder=3)
    ax.step([r[mx] for r in front], [r[my] for r in front], where="post", c="#d9480f", lw=1)
    groups = front_groups(rows, [m for m, _ in objectives])
    # One label per drawn position: programs tied on the plotted objectives would print on top of each other.
    labelled = []
    for ids in front_groups(rows, [mx, my]):
        r = next(r for r in front if r["id"] == ids[0])
        labelled.append((ids[0] + (f" (+{len(ids) - 1} tied)" if len(ids) > 1 else ""), r[mx], r[my]))
    labelled.sort(key=lambda t: (t[1], t[2]))  # left to right: each label moves past its left neighbours'
    ax.autoscale_view()
    anchors = [tuple(ax.transData.transform((x, y)) * 72.0 / fig.dpi) for _, x, y in labelled]  # in points
    for (label, x, y), offset in zip(labelled, label_offsets(anchors, [lab for lab, _, _ in labelled], 7)):
        ax.annotate(label, (x, y), fontsize=7, xytext=offset, textcoords="offset points")
    ax.set_xlabel(f"{mx} ({'higher' if dx == 'max' else 'lower'} is better)")
    ax.set_ylabel(f"{my} ({'higher' if dy == 'max' else 'lower'} is better)")
    ax.set_title(f"{config.name}: {len(rows)} evaluated, {front_size(len(groups), len(front))}, "
                 f"hypervolume {archive.hypervolume(campaign_reference(store, config), archive.front()):.4g}",
                 fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
