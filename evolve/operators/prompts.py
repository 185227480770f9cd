"""Every prompt the LLM operators send, in one place, under one version string.

A change to any text here must bump `PROMPT_VERSION`: candidates record the version and
the hash of the exact messages that made them, so results stay attributable to prompts.
"""
from __future__ import annotations

import ast
import functools
import random
import re
from pathlib import Path
from typing import Any

import design_space

from design_space.validate import ALLOWED_IMPORTS, FORBIDDEN_CALLS
from evolve.operators.base import CandidateView, OperatorContext

PROMPT_VERSION = "memarch-prompts/4"
MAX_FAILURES = 4
MAX_INSPIRATION_CHARS = 8000
MAX_LINEAGE = 8

CONTRACT = f"""\
A memory program is ONE Python module that defines `class Memory(MemoryProgram)`:

    from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal

    class Memory(MemoryProgram):
        INSTRUCTIONS = "..."   # tells the answering agent how to read the recalled items
        def __init__(self, kit): super().__init__(kit)   # kit.embed(texts) -> (n, d) numpy rows,
                                # L2-normalised; kit.count_tokens(text); kit.llm (None or str -> str); kit.now()
        def encode(self, event: Event) -> list[Record]      # Record: your own dataclass
        def store(self, records: list[Record]) -> None
        def retrieve(self, query: Query) -> Recall           # Recall(tuple(RecallItem(text, source_ids, score)))
        def manage(self, signal: Signal) -> None            # signal.kind: session_end | task_end | feedback

- Event: id (the source id retrieval is scored on), text, time, speaker, session, meta.
- Query: id, text, time, budget_tokens (items beyond the budget are cut and cost tokens).
- Every RecallItem must carry the ids of the events it came from: that is what is scored.
- Module-level UPPER_CASE constants (e.g. TOP_K = 8) are tunable knobs; keep them literals.
- Allowed imports only: {", ".join(sorted(ALLOWED_IMPORTS))}.
- Forbidden calls: {", ".join(f"{c}()" for c in sorted(FORBIDDEN_CALLS))}; no file or network access,
  no dunder tricks.
- Tested building blocks you may import (`from design_space.components.<stage>.<module> import ...`)
  are listed below; you may also write your own code.
"""


def _signature(node: ast.FunctionDef, skip_self: bool) -> str:
    args = node.args
    if skip_self and args.args:
        args = ast.arguments(posonlyargs=args.posonlyargs, args=args.args[1:], vararg=args.vararg,
                             kwonlyargs=args.kwonlyargs, kw_defaults=args.kw_defaults, kwarg=args.kwarg,
                             defaults=args.defaults)
    ret = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    return f"{node.name}({ast.unparse(args)}){ret}"


def _describe_module(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    doc = (ast.get_docstring(tree) or "").split("\n")[0]
    lines = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            lines.append("    " + _signature(node, skip_self=False))
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            methods = [n for n in node.body if isinstance(n, ast.FunctionDef)]
            init = next((m for m in methods if m.name == "__init__"), None)
            fields = [f"{n.target.id}: {ast.unparse(n.annotation)}" for n in node.body
                      if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)]
            if init:
                head = _signature(init, True).replace("__init__", node.name, 1).removesuffix(" -> None")
            else:
                head = f"{node.name}({', '.join(fields)})" if fields else node.name
            public = [m.name for m in methods if not m.name.startswith("_")]
            lines.append(f"    class {head}" + (f": {', '.join(public)}" if public else ""))
    return [f"  {doc}"] + lines if lines else []


@functools.lru_cache(maxsize=1)
def component_catalogue() -> str:
    """One entry per module of design_space/components, read statically (nothing is imported)."""
    root = Path(design_space.__file__).resolve().parent / "components"
    out = []
    for path in sorted(root.glob("*/*.py")):
        if path.name == "__init__.py":
            continue
        described = _describe_module(path)
        if described:
            out.append(f"design_space.components.{path.parent.name}.{path.stem}")
            out += described
    return "\n".join(out)

DIFF_FORMAT = """\
Answer with one or more edits in exactly this form (markers on their own lines):

<<<<<<< SEARCH
lines copied exactly from the current program, enough of them to match one place
=======
the lines that replace them
>>>>>>> REPLACE

After the edits write one line: NOTE: <what you changed and why, in one line>"""

REWRITE_FORMAT = """\
Answer with the complete new program in one ```python code block.
After it write one line: NOTE: <what you changed and why, in one line>"""


def system_prompt(full_rewrite: bool, components: bool = True) -> str:
    blocks = component_catalogue() if components else ""
    return ("You improve memory systems for LLM agents. Each is a small Python program whose "
            "recall is measured on a task; you make targeted, well-reasoned changes that fix "
            "the failures you are shown without breaking what works.\n\n" + CONTRACT + "\n"
            + (f"## Building blocks\n{blocks}\n\n" if blocks else "")
            + (REWRITE_FORMAT if full_rewrite else DIFF_FORMAT))


# Timings and footprints differ from run to run: shown to the model only when they are
# objectives, so that a prompt (and its hash, which keys recorded answers) is reproducible.
_NOISY = re.compile(r"(_ms|_s|_seconds|latency|time|bytes|rss)(_p\d+)?$|_ms_")


def _shown(values: dict[str, float], objectives: list[str]) -> str:
    keep = {k: v for k, v in values.items() if k in objectives or not _NOISY.search(k)}
    return ", ".join(f"{k}={v:.4g}" for k, v in sorted(keep.items()))


def _metrics(view: CandidateView, objectives: list[str] = ()) -> str:
    lines = [_shown(view.metrics, list(objectives)) or "(not measured yet)"]
    for cat, values in sorted(view.per_category.items()):
        lines.append(f"  {cat}: " + _shown(values, list(objectives)))
    return "\n".join(lines)


def _clip(text: Any, n: int) -> str:
    text = str(text).replace("\n", " ")
    return text if len(text) <= n else text[: n - 1] + "…"


def _failure(f: dict[str, Any]) -> str:
    head = f"- [{f.get('category', '?')}] " + (f"question: {_clip(f['question'], 200)}" if f.get("question")
                                                 else f"query {f.get('query_id', '?')}")
    lines = [head]
    if f.get("answer"):
        lines.append(f"  expected answer: {_clip(f['answer'], 120)}")
    for eid, text in list((f.get("gold_evidence") or {}).items())[:4]:
        lines.append(f"  needed evidence {eid}: {_clip(text, 240)}")
    returned = f.get("returned") or []
    if not returned:
        lines.append("  the program returned nothing")
    for item in returned[:3]:
        ids = ",".join(map(str, item.get("source_ids", []))) or "no ids"
        lines.append(f"  returned [{ids}]: {_clip(item.get('text', ''), 160)}")
    return "\n".join(lines)


def _failures(view: CandidateView, rng: random.Random) -> str:
    failures = list(view.failures)
    if len(failures) > MAX_FAILURES:
        failures = rng.sample(failures, MAX_FAILURES)
    return "\n".join(_failure(f) for f in failures) if failures else "(no failures recorded)"


def _program(view: CandidateView, limit: int | None = None) -> str:
    code = view.code if limit is None or len(view.code) <= limit else view.code[:limit] + "\n# … (cut)\n"
    return f"```python\n{code.rstrip()}\n```"


def _task(ctx: OperatorContext) -> str:
    goal = f"Task: {ctx.task or 'memory recall'}."
    if ctx.objectives:
        goal += " Objectives (Pareto): " + ", ".join(ctx.objectives) + "."
    return goal


def edit_messages(ctx: OperatorContext, *, full_rewrite: bool, components: bool = True) -> list[dict[str, str]]:
    parent = ctx.parents[0]
    parts = [_task(ctx), f"## Current program ({parent.id})\n{_program(parent)}",
             f"## Its measurements\n{_metrics(parent, ctx.objectives)}",
             f"## Queries it failed (sample)\n{_failures(parent, ctx.rng)}"]
    if ctx.lineage:
        parts.append("## Changes that led here (oldest first)\n"
                     + "\n".join(f"- {note}" for note in ctx.lineage[-MAX_LINEAGE:]))
    for view in ctx.inspirations[:2]:
        parts.append(f"## For inspiration: another program on the front ({view.id})\n"
                     f"Measurements: {_metrics(view, ctx.objectives)}\n{_program(view, MAX_INSPIRATION_CHARS)}")
    parts.append("Make one focused improvement that should fix some of these failures. "
                 + ("Rewrite the whole program." if full_rewrite else "Edit the current program."))
    return [{"role": "system", "content": system_prompt(full_rewrite, components)},
            {"role": "user", "content": "\n\n".join(parts)}]


def crossover_messages(ctx: OperatorContext, *, full_rewrite: bool,
                       components: bool = True) -> list[dict[str, str]]:
    a, b = ctx.parents[0], ctx.parents[1]
    parts = [_task(ctx),
             f"## Program A ({a.id})\n{_program(a)}\nMeasurements: {_metrics(a, ctx.objectives)}",
             f"## Program B ({b.id})\n{_program(b)}\nMeasurements: {_metrics(b, ctx.objectives)}",
             f"## Queries program A failed (sample)\n{_failures(a, ctx.rng)}",
             "Merge A and B into one program that keeps what each does best (their metrics per "
             "category show where each is strong). "
             + ("Write the whole merged program." if full_rewrite
                else "Express the merge as edits to program A.")]
    return [{"role": "system", "content": system_prompt(full_rewrite, components)},
            {"role": "user", "content": "\n\n".join(parts)}]


def _excerpt(code: str, line: int, around: int = 3) -> str:
    lines = code.splitlines()
    lo, hi = max(1, line - around), min(len(lines), line + around)
    return "\n".join(f"{n:4d}| {lines[n - 1]}" for n in range(lo, hi + 1))


def fix_message(problems: list[str], code: str, lines: list[int], *, full_rewrite: bool) -> str:
    """What goes back to the model when its answer could not be used."""
    text = ["Your answer could not be used:"] + [f"- {p}" for p in problems]
    shown = sorted({n for n in lines if n > 0})[:3]
    if shown:
        text.append("\nThe program as it stands after your applied edits, around those lines:")
        text += [_excerpt(code, n) for n in shown]
    text.append("\n" + ("Answer again with the complete corrected program." if full_rewrite else
                        "Answer again with SEARCH/REPLACE blocks against the program as it now stands "
                        "(edits that applied are kept)."))
    text.append("End with one NOTE: line describing your whole change to the original program, not just this fix.")
    return "\n".join(text)
