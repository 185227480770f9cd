"""Read-only views of a campaign for people: the front table and the lineage tree."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from rich.table import Table
from rich.tree import Tree

from evolve.archive import Archive
from evolve.config import CampaignConfig, parse_config
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


def front_table(store: Store, all_ranks: bool = False) -> Table:
    config, archive, rows = front_rows(store)
    objectives = [(o.metric, o.direction) for o in config.objectives]
    table = Table(title=f"front of {config.name} — {len(archive)} evaluated, "
                        f"hypervolume {archive.hypervolume():.4g}")
    table.add_column("candidate")
    table.add_column("rank", justify="right")
    for m, d in objectives:
        table.add_column(f"{m} ({'↑' if d == 'max' else '↓'})", justify="right")
    table.add_column("operator")
    table.add_column("parents")
    for row in rows:
        if row["rank"] > 0 and not all_ranks:
            continue
        table.add_row(row["id"], str(row["rank"]), *(f"{row[m]:.4g}" for m, _ in objectives), row["operator"],
                      ",".join(row["parents"]) or "-")
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
