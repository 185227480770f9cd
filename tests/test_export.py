"""Standalone export: the inlined module runs where memarch is not importable and behaves exactly
like the program it came from; the card says what a user needs; the CLI exports one or the front."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from design_space.contract import Event, Query, Signal, to_json
from design_space.kit import Kit
from design_space.seeds import seed_names, seed_source
from evolve.config import dump_config, parse_config
from evolve.export import export_candidate, export_front
from evolve.inline import InlineError, inline_program
from evolve.novelty import program_hash
from evolve.operators.knobs import write_knobs
from evolve.store import Store, StoreError
from sandboxes.backends.process import ProcessSandbox
from sandboxes.job import Job
from sandboxes.tasks import get_task

ROOT = Path(__file__).resolve().parents[1]
SITE = sysconfig.get_paths()["purelib"]  # numpy, torch, bm25s, networkx — and memarch only via a .pth
PARAMS = {"conversations": 1}
MAX_QUERIES = 8

# Replays steps (JSON) through every exported module in `sys.argv[1]` and prints what each recalled.
REPLAY = textwrap.dedent("""
    import importlib.util, json, sys
    try:
        import design_space
        raise SystemExit("design_space is importable: the isolation leaks")
    except ImportError:
        pass
    steps = json.loads(sys.stdin.read())
    out = {}
    for name in sys.argv[2:]:
        spec = importlib.util.spec_from_file_location(name, f"{sys.argv[1]}/{name}.py")
        m = importlib.util.module_from_spec(spec)
        sys.modules[name] = m
        spec.loader.exec_module(m)
        mem = m.Memory(m.Kit())
        got = []
        for kind, d in steps:
            if kind == "event":
                mem.store(mem.encode(m.Event(**d)))
            elif kind == "signal":
                mem.manage(m.Signal(**d))
            else:
                got.append([list(i.source_ids) for i in mem.retrieve(m.Query(**d)).items])
        out[name] = got
    print(json.dumps(out))
""")


def _steps() -> list[tuple[str, dict]]:
    stream = get_task("synthetic").build(PARAMS, "smoke", 5)
    steps = []
    for step in stream.episodes[0].steps:
        kind = "event" if isinstance(step, Event) else "signal" if isinstance(step, Signal) else "query"
        steps.append((kind, to_json(step)))
    last_query = [i for i, (k, _) in enumerate(steps) if k == "query"][MAX_QUERIES - 1]
    return steps[: last_query + 1]


def _in_process(code: str, steps) -> list[list[list[str]]]:
    namespace: dict = {}
    exec(compile(code, "<program>", "exec"), namespace)
    mem = namespace["Memory"](Kit())
    got = []
    for kind, d in steps:
        if kind == "event":
            mem.store(mem.encode(Event(**d)))
        elif kind == "signal":
            mem.manage(Signal(**d))
        else:
            got.append([list(i.source_ids) for i in mem.retrieve(Query(**d)).items])
    return got


def _isolated(python: str, directory: Path, names: list[str], steps, extra_path: list[str],
              flags: tuple[str, ...] = ("-I", "-S")) -> dict:
    # -I: no user site, no PYTHON* env, no cwd on the path; -S: no site, so no memarch .pth is run.
    boot = f"import sys; sys.path[:0] = {extra_path!r}\n"
    r = subprocess.run([python, *flags, "-c", boot + REPLAY, str(directory), *names],
                       input=json.dumps(steps), capture_output=True, text=True, timeout=300, cwd=directory)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout)


# Between them these use most building blocks: BM25, dense, hybrid, graph + PageRank, tiers, facts, dedupe.
FAST_SEEDS = ("bm25_rag", "dense_rag", "hipporag", "memgpt", "mem0")


@pytest.mark.parametrize("seeds", [pytest.param(FAST_SEEDS, id="five"),
                                   pytest.param(None, id="all", marks=pytest.mark.slow)])
def test_seeds_inlined_run_without_memarch_and_recall_the_same(tmp_path, seeds):
    steps = _steps()
    assert sum(k == "query" for k, _ in steps) >= 3
    names = []
    for name in seeds or seed_names():
        out = inline_program(seed_source(name), [("design_space.kit", "Kit")])
        assert not re.search(r"^\s*(from|import) design_space", out.code, re.M), name
        (tmp_path / f"exp_{name}.py").write_text(out.code)
        names.append(name)
    got = _isolated(sys.executable, tmp_path, [f"exp_{n}" for n in names], steps, [SITE])
    for name in names:
        assert got[f"exp_{name}"] == _in_process(seed_source(name), steps), name


def test_inliner_renames_clashing_names_and_rejects_what_it_cannot_inline(tmp_path):
    # The program defines its own `pack` and `annotate`: the inlined building blocks must not replace them.
    program = textwrap.dedent('''
        """A program whose names clash with building blocks."""
        from design_space import MemoryProgram, Recall, RecallItem
        from design_space.components.retrieve.packing import pack as fit

        def pack(x):
            return "mine"

        class Memory(MemoryProgram):
            def encode(self, event): return [event]
            def store(self, records): self.items = getattr(self, "items", []) + records
            def manage(self, signal): pass
            def retrieve(self, query):
                assert pack(1) == "mine"
                return fit([RecallItem(e.text, (e.id,)) for e in self.items], query.budget_tokens,
                           self.kit.count_tokens)
    ''')
    code = inline_program(program, [("design_space.kit", "Kit")]).code
    assert code.startswith('"""A program whose names clash')
    assert "def pack_packing(" in code and "def pack(x):" in code
    (tmp_path / "clash.py").write_text(code)
    steps = [("event", to_json(Event(id="e1", text="Anna lives in Lisbon"))),
             ("query", to_json(Query(id="q", text="Anna?", budget_tokens=32)))]
    assert _isolated(sys.executable, tmp_path, ["clash"], steps, [SITE])["clash"] == [[["e1"]]]
    with pytest.raises(InlineError, match="not supported"):
        inline_program("import design_space.kit\n")
    with pytest.raises(InlineError, match="defines no"):
        inline_program("from design_space.kit import Nothing\nx = Nothing\n")


@pytest.fixture(scope="module")
def run_store(tmp_path_factory):
    """A real campaign database: seeds and one knob-mutated child, each evaluated in the process sandbox."""
    runs = tmp_path_factory.mktemp("runs")
    cfg = parse_config({"name": "exp", "seed": 1,
                        "task": {"name": "synthetic", "params": PARAMS, "cascade": ["smoke", "full"]},
                        "seeds": ["dense_rag", "recency_window"]})
    store = Store.create(runs / "exp", dump_config(cfg))
    sandbox = ProcessSandbox()
    child = write_knobs(seed_source("dense_rag"), {"TOP_K": 3})
    made = [store.add_candidate(seed_source("dense_rag"), program_hash(seed_source("dense_rag")), (), "seed:dense_rag",
                                "seed dense_rag"),
            store.add_candidate(seed_source("recency_window"), program_hash(seed_source("recency_window")), (),
                                "seed:recency_window", "seed recency_window"),
            store.add_candidate(child, program_hash(child), ("c0001",), "structural", "TOP_K 8 → 3")]
    for cand in made:
        for stage in ("smoke", "full"):
            res = sandbox.run(Job(program=cand.code, task="synthetic", task_params=PARAMS, fidelity=stage, seed=1))
            assert res.status == "ok", res.error
            store.add_evaluation(cand.id, stage, res)
    yield runs, store
    store.close()


def test_export_writes_module_and_card(run_store, tmp_path):
    _runs, store = run_store
    path = export_candidate(store, "c0003", tmp_path / "out")
    assert path == tmp_path / "out" / "exp_c0003.py"
    code = path.read_text()
    assert "TOP_K = 3" in code and "class DenseIndex" in code and "class Kit" in code
    assert not re.search(r"^\s*(from|import) design_space", code, re.M)
    card = path.with_name("exp_c0003.card.md").read_text()
    ev = store.evaluation("c0003", "full")
    for cat, d in ev.per_category.items():  # every category, with its recall, in the per-category table
        assert re.search(rf"^\| {cat} \| {d['n']:.4g} \| {d['recall']:.4g} \|" if "recall" in d
                         else rf"^\| {cat} \|", card, re.M), cat
    assert "1. `c0001` seed:dense_rag" in card and "1. `c0003` structural: TOP_K 8 → 3" in card
    assert "name: exp" in card and "from exp_c0003 import Memory" in card
    # a .py target is the file itself
    one = export_candidate(store, "c0002", tmp_path / "mine.py")
    assert one == tmp_path / "mine.py" and (tmp_path / "mine.card.md").exists()
    with pytest.raises(StoreError, match="no candidate"):
        export_candidate(store, "c0099", tmp_path)


def test_cli_exports_the_front_and_the_module_runs_in_isolation(run_store, tmp_path):
    runs, store = run_store
    env = {**os.environ, "COLUMNS": "200"}
    r = subprocess.run([sys.executable, "-m", "evolve.cli", "export", "exp", "--front", "-o", str(tmp_path / "front"),
                        "--runs-dir", str(runs)], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    front = sorted(p.stem for p in (tmp_path / "front").glob("*.py"))
    assert front == sorted(p.stem for p in export_front(store, tmp_path / "again"))
    assert front and all((tmp_path / "front" / f"{s}.card.md").exists() for s in front)
    steps = _steps()
    got = _isolated(sys.executable, tmp_path / "front", front, steps, [SITE])
    for stem in front:
        assert got[stem] == _in_process(store.candidate(stem.split("_")[-1]).code, steps)
    bad = subprocess.run([sys.executable, "-m", "evolve.cli", "export", "exp", "c0001", "--front", "-o", str(tmp_path),
                          "--runs-dir", str(runs)], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    assert bad.returncode == 2 and "exactly one of them" in bad.stderr


@pytest.mark.slow
def test_exported_program_runs_in_a_fresh_virtualenv_with_only_numpy(run_store, tmp_path):
    """A plain venv (no system site-packages), numpy from PyPI, and the card's own usage example."""
    _runs, store = run_store
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = str(venv / "bin" / "python")
    pip = subprocess.run([py, "-m", "pip", "install", "-q", "numpy"], capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr[-2000:]
    path = export_candidate(store, "c0003", tmp_path / "out")
    steps = _steps()
    got = _isolated(py, path.parent, [path.stem], steps, [], ("-I",))  # the venv's own site-packages: numpy only
    assert got[path.stem] == _in_process(store.candidate("c0003").code, steps)
    # the card's usage example, as written, plugged into a toy agent loop
    card = path.with_name(f"{path.stem}.card.md").read_text()
    example = card.split("```python\n", 1)[1].split("```", 1)[0]
    agent = ("conversation = ['I moved to Lisbon in May.', 'My sister Ana is a chemist.', 'I adopted a cat.']\n"
             "question = 'Where did I move?'\nllm = lambda prompt: prompt.count('Lisbon')\n" + example
             + "assert recall.items and 'Lisbon' in recall.render(), recall\nassert answer >= 1\nprint('ok')\n")
    r = subprocess.run([py, "-I", "-c", f"import sys; sys.path.insert(0, {str(path.parent)!r})\n" + agent],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]


def test_eval_takes_a_stored_candidate_and_names_an_export_for_what_it_is(run_store, tmp_path):
    """`memarch eval RUN:CANDIDATE` measures a stored program; an exported module (its own copy of the
    contract, which the harness cannot check) is refused in one line that says what to run instead."""
    runs, store = run_store
    env = {**os.environ, "COLUMNS": "200"}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "evolve.cli", "eval", *args, "--runs-dir", str(runs)],
                              capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)

    ok = cli("exp:c0003", "--params", json.dumps(PARAMS), "--timeout", "60")
    assert ok.returncode == 0, ok.stderr
    recall = float(re.search(r"│ recall\s+│\s+([\d.]+)", ok.stdout)[1])
    direct = ProcessSandbox().run(Job(program=store.candidate("c0003").code, task="synthetic", task_params=PARAMS,
                                      fidelity="smoke"))  # eval's default seed, not the campaign's
    assert recall == pytest.approx(direct.metrics["recall"], abs=1e-3)
    path = export_candidate(store, "c0003", tmp_path / "out")
    refused = cli(str(path))
    assert refused.returncode == 2 and "standalone export" in refused.stderr and "exp:c0003" not in refused.stdout
    assert "RUN:CANDIDATE" in refused.stderr
    missing = cli("exp:c0099")
    assert missing.returncode == 2 and "no candidate" in missing.stderr
    assert cli("seed_that_is_not", "--timeout", "0").returncode == 2


def test_every_seed_inlined_passes_validation():
    """An exported program is still a valid program: nothing inlined may use what the validator
    forbids (DenseIndex once read its own __dict__, so every dense export was refused)."""
    from design_space.seeds import seed_names
    from design_space.validate import validate_source

    for name in seed_names():
        problems = validate_source(inline_program(seed_source(name)).code)
        assert problems == [], (name, problems[0].render())


def test_every_catalogue_component_inlined_passes_validation():
    """So does a program holding any component the structural search can insert (the time-aware
    step's `calendar` import was once refused, so every export of a program using it was invalid)."""
    from design_space.catalogue import COMPONENTS
    from design_space.validate import validate_source
    from evolve.operators.pipeline_edits import insert_at

    base = seed_source("bm25_rag")
    checked = 0
    for comp in COMPONENTS.values():
        if comp.slot == "index":
            continue
        code = insert_at(base, comp.slot, comp, 0)
        problems = validate_source(inline_program(code).code)
        assert problems == [], (comp.name, problems[0].render())
        checked += 1
    assert checked >= 15
