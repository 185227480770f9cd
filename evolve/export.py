"""Export a candidate as a plain Python module with a header saying where it came from."""
from __future__ import annotations

from pathlib import Path

from design_space.validate import validate_source
from evolve.store import Store, StoreError
from evolve.views import stored_config


def export_candidate(store: Store, cid: str, output: Path) -> Path:
    cand = store.candidate(cid)
    config = stored_config(store)
    ev = store.evaluation(cid, config.task.cascade[-1])
    metrics = ", ".join(f"{o.metric}={ev.metrics[o.metric]:.4g}" for o in config.objectives
                        if ev and ev.status == "ok" and o.metric in ev.metrics) or "not evaluated at full fidelity"
    header = (f"# memarch export: campaign {config.name}, candidate {cid} ({cand.operator})\n"
              f"# parents: {', '.join(cand.parents) or 'none'}; task {config.task.name}: {metrics}\n")
    code = header + cand.code
    problems = validate_source(code)
    if problems:
        raise StoreError(f"{cid} does not validate: {problems[0].render()}")
    output = Path(output)
    if output.is_dir():
        output = output / f"{config.name}_{cid}.py"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(code, encoding="utf-8")
    return output
