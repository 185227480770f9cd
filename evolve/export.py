"""Export winners as standalone Python: one module per program plus a card that explains it.

The module has the `design_space` code the program uses inlined (see evolve/inline.py) and a
small offline toolkit (`Kit`: hashing embedder, token counter, optional llm), so it runs where
memarch is not installed — numpy, plus whatever third-party library the program itself imports
(torch, bm25s, networkx). The card (`<name>.card.md`) gives the metrics per category, the
lineage with change notes, the campaign config and a usage example for an agent loop.
"""
from __future__ import annotations

import keyword
import os
import re
import tempfile
from pathlib import Path
from typing import Callable

import yaml

from design_space.validate import validate_source
from evolve.inline import InlineError, inline_program
from evolve.store import Store, StoreError
from evolve.views import ancestry, final_stage, front_groups, front_rows, stored_config

# What the usage example needs, whether or not the program itself imports it.
USAGE_NAMES = ("Kit", "Event", "Query", "Signal", "Recall")
USAGE = [("design_space.kit", "Kit")] + [("design_space.contract", n) for n in USAGE_NAMES[1:]]


def module_name(text: str) -> str:
    """`text` made an importable module name: `locomo-spec_c0012` -> `locomo_spec_c0012`."""
    name = re.sub(r"\W", "_", text)
    name = f"m_{name}" if not name or name[0].isdigit() else name
    return f"{name}_" if keyword.iskeyword(name) else name


def _target(output: Path, default_name: str) -> Path:
    """A `.py` path is the module to write (its name must be importable); anything else is a directory.
    Checked before any work: a name that cannot be imported, or a file where a folder must be."""
    output = Path(output)
    if output.suffix == ".py" and not output.is_dir():
        if not output.stem.isidentifier() or keyword.iskeyword(output.stem):
            raise StoreError(f"-o {output}: {output.stem!r} cannot be imported as a Python module; "
                             f"name it like {module_name(output.stem)}.py")
        path = output
    else:
        path = output / f"{module_name(default_name)}.py"
    blocking = next((d for d in path.parents if d.exists() and not d.is_dir()), None)
    if blocking is not None:
        raise StoreError(f"cannot write {path}: {blocking} is a file, not a folder")
    return path


def _write_both(path: Path, code: str, card: Path, card_text: str) -> None:
    """Write the module and its card, or neither: a failure leaves no half-written export behind."""
    made = [d for d in reversed(path.parents) if not d.exists()]
    existed = path.exists()
    temps: list[Path] = []
    target = path.parent
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for target, text in ((path, code), (card, card_text)):
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            temps.append(Path(tmp))
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.chmod(tmp, 0o644)
        target = path
        os.replace(temps[0], path)
        target = card
        os.replace(temps[1], card)
    except BaseException as exc:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
        if target == card and not existed:
            path.unlink(missing_ok=True)
        for d in reversed(made):  # directories this export created, deepest first
            try:
                d.rmdir()
            except OSError:
                pass
        if isinstance(exc, OSError):
            raise StoreError(f"cannot write {target}: {exc.strerror or exc}") from None
        raise


def export_candidate(store: Store, cid: str, output: Path) -> Path:
    """Write candidate `cid` as a standalone module (and its card next to it); return the module path."""
    cand = store.candidate(cid)
    config = stored_config(store)
    path = _target(output, f"{config.name}_{cid}")
    problems = validate_source(cand.code)
    if problems:
        raise StoreError(f"{cid} does not validate: {problems[0].render()}")
    try:
        inlined = inline_program(cand.code, USAGE)
    except InlineError as exc:
        raise StoreError(f"{cid} cannot be exported standalone: {exc}") from None
    ev = store.evaluation(cid, final_stage(config))
    metrics = ", ".join(f"{o.metric}={ev.metrics[o.metric]:.4g}" for o in config.objectives
                        if ev and ev.status == "ok" and o.metric in ev.metrics) or "not evaluated at full fidelity"
    header = (f"# memarch export: campaign {config.name}, candidate {cid} ({cand.operator}); "
              f"task {config.task.name}: {metrics}\n"
              f"# Standalone: needs numpy{_third_party(inlined.code)}; memarch is not required. "
              f"See {path.stem}.card.md.\n")
    card = path.with_name(f"{path.stem}.card.md")
    names = {n: inlined.names[k] for k, n in zip(USAGE, USAGE_NAMES)}  # as called in the module
    _write_both(path, header + inlined.code, card, render_card(store, cid, path.stem, names, inlined.modules))
    return path


def distinct_front(rows: list[dict], objectives: list[str]) -> list[str]:
    """Rank-0 candidates, one per point: of programs tied on every objective, the earliest."""
    return [ids[0] for ids in front_groups(rows, objectives)]


def export_front(store: Store, out_dir: Path, on_step: Callable[[str], None] = lambda cid: None) -> list[Path]:
    """Export the front into `out_dir`, one program per distinct point; returns the module paths."""
    config, _archive, rows = front_rows(store)
    front = distinct_front(rows, [o.metric for o in config.objectives])
    if not front:
        raise StoreError(f"{config.name} has no evaluated front yet; wait for `memarch status` to show one")
    out = []
    for cid in front:
        out.append(export_candidate(store, cid, Path(out_dir) / f"{module_name(config.name)}_{cid}.py"))
        on_step(cid)
    return out


def _third_party(code: str) -> str:
    extra = [m for m in ("torch", "bm25s", "networkx") if f"import {m}" in code]
    return (", " + ", ".join(extra)) if extra else ""


def _embedder_note(config, kit_name: str) -> str:
    name = getattr(config.task, "embedder", "hashing")
    if name == "hashing":
        return "The campaign measured it with this same hashing embedder, so the metrics above carry over."
    return (f"The campaign measured it with the `{name}` embedder; for the same behaviour pass any object with "
            f"`embed(texts) -> (n, d) float32 array, rows L2-normalised` as `{kit_name}(embedder=...)` "
            f"(e.g. sentence-transformers all-MiniLM-L6-v2).")


def _fmt(v: float) -> str:
    return f"{v:.4g}" if isinstance(v, (int, float)) else str(v)


def render_card(store: Store, cid: str, module: str, names: dict[str, str], modules: list[str]) -> str:
    kit_name, ev_name, q_name, sig_name = names["Kit"], names["Event"], names["Query"], names["Signal"]
    config = stored_config(store)
    cand = store.candidate(cid)
    final = final_stage(config)
    ev = store.evaluation(cid, final)
    objectives = [o.metric for o in config.objectives]
    lines = [f"# {module}", "",
             f"Candidate **{cid}** of campaign **{config.name}**, made by `{cand.operator}`"
             + (f" from {', '.join(cand.parents)}" if cand.parents else "") + f" (generation {cand.generation}).",
             "", f"> {cand.note}" if cand.note else "", ""]
    lines += ["## Metrics", ""]
    if ev is None or ev.status != "ok":
        lines += [f"Not evaluated at the `{final}` stage ({ev.status if ev else 'no result'}).", ""]
    else:
        lines += [f"Task `{config.task.name}`, stage `{final}`. Objectives: "
                  + ", ".join(f"{o.metric} ({o.direction})" for o in config.objectives) + ".", "",
                  "| metric | value |", "|---|---|"]
        lines += [f"| {m}{' *' if m in objectives else ''} | {_fmt(v)} |" for m, v in sorted(ev.metrics.items())]
        if ev.per_category:
            cols = sorted({k for d in ev.per_category.values() for k in d if k != "n"} & set(ev.metrics))
            cols = [c for c in objectives if c in cols] + [c for c in cols if c not in objectives][:5]
            lines += ["", "Per category:", "", "| category | n | " + " | ".join(cols) + " |",
                      "|---|---|" + "---|" * len(cols)]
            for cat, d in sorted(ev.per_category.items()):
                lines.append(f"| {cat} | {_fmt(d.get('n', ''))} | " + " | ".join(_fmt(d.get(c, '')) for c in cols)
                             + " |")
        lines.append("")
    lines += ["## Lineage", "", "Root first; deltas are against the parent on the objectives.", ""]
    prev = None
    for step in ancestry(store, cid):
        step_ev = store.evaluation(step.id, final)
        vals = step_ev.metrics if step_ev and step_ev.status == "ok" else {}
        parts = []
        for m in objectives:
            if m in vals:
                d = f" ({vals[m] - prev[m]:+.3g})" if prev and m in prev else ""
                parts.append(f"{m}={vals[m]:.4g}{d}")
        tail = f" — {', '.join(parts)}" if parts else ""
        lines.append(f"1. `{step.id}` {step.operator}: {step.note or '-'}{tail}")
        prev = vals
    lines += ["", "## Campaign config (excerpt)", "", "```yaml",
              yaml.safe_dump({"name": config.name, "seed": config.seed, "task": config.task.model_dump(),
                              "objectives": [o.model_dump() for o in config.objectives]}, sort_keys=False).strip(),
              "```", "",
              "## Use it in an agent", "",
              f"`{module}.py` is self-contained: the memarch building blocks it uses are inlined "
              f"({', '.join(m.rsplit('.', 1)[-1] for m in modules) or 'none'}), "
              f"and `{kit_name}` is a small offline toolkit: hashing embedder, token counter; "
              f"pass `llm_fn=` and `llm_call_budget=` to lend it a model.", "", _embedder_note(config, kit_name), "",
              "```python", f"from {module} import Memory, {ev_name}, {q_name}, {sig_name}, {kit_name}", "",
              f"memory = Memory({kit_name}())",
              "for i, turn in enumerate(conversation):          # your agent's dialogue turns",
              f"    memory.store(memory.encode({ev_name}(id=f\"t{{i}}\", text=turn, speaker=\"user\","
              " session=\"s1\")))",
              f"memory.manage({sig_name}(kind=\"session_end\", session=\"s1\"))",
              f"recall = memory.retrieve({q_name}(id=\"q1\", text=question, budget_tokens=512))",
              "prompt = f\"{Memory.INSTRUCTIONS}\\n\\n{recall.render()}\\n\\nQuestion: {question}\"",
              "answer = llm(prompt)                              # any chat model",
              "```", ""]
    return "\n".join(lines)
