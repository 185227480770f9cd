"""Structural edits (no LLM) make valid children that run, and say what they changed."""
import random

import pytest

from design_space.contract import Event, Query
from design_space.kit import Kit
from design_space.seeds import seed_names, seed_source
from design_space.validate import validate_source
from evolve.operators.base import CandidateView, OperatorContext, OperatorError
from evolve.operators.knobs import read_knobs, write_knobs
from evolve.operators.structural import StructuralEdit
from evolve.operators.structural_edits import add_context, add_neighbours, remove_step, swap_index
from sandboxes.backends.process import ProcessSandbox
from sandboxes.harness import load_program
from sandboxes.job import Job


def ctx(code, seed=0):
    return OperatorContext(parents=[CandidateView("c0001", code)], rng=random.Random(seed))


def run(code):
    return ProcessSandbox().run(Job(program=code, task="synthetic", fidelity="smoke"))


def test_knobs_round_trip_and_unknown_knob():
    src = seed_source("bm25_rag")
    knobs = {k.name: k.value for k in read_knobs(src)}
    assert knobs["TOP_K"] == 10
    out = write_knobs(src, {"TOP_K": 3, "B": 0.5})
    assert {k.name: k.value for k in read_knobs(out)}["TOP_K"] == 3
    with pytest.raises(KeyError, match="NOPE"):
        write_knobs(src, {"NOPE": 1})


@pytest.mark.parametrize("name", seed_names())
def test_knob_writes_change_only_the_literals(name):
    src = seed_source(name)
    knobs = read_knobs(src)
    assert knobs, f"{name} has no knobs"
    new = {k.name: (not k.value if isinstance(k.value, bool) else k.value + "x" if isinstance(k.value, str)
                    else -(k.value + 3) if isinstance(k.value, int) else round(k.value * 1.5 + 0.25, 6)) for k in knobs}
    out = write_knobs(src, new)
    assert {k.name: k.value for k in read_knobs(out)} == new
    assert validate_source(out) == []
    changed = [(a, b) for a, b in zip(src.splitlines(), out.splitlines()) if a != b]
    assert len(src.splitlines()) == len(out.splitlines()) and len(changed) == len(knobs)
    for before, after in changed:  # the name, the annotation and any comment on the line stay as they were
        assert before.split("=")[0] == after.split("=")[0]
        assert ("#" in before) == ("#" in after) and before.partition("#")[2] == after.partition("#")[2]


def test_knobs_ignore_computed_values_and_shared_lines():
    src = "A = 1; B = 2\nC = 3  # three\nD = [1, 2]\nE: float = -0.5\nF = C * 2\n_G = 4\nh = 5\n"
    assert [(k.name, k.value) for k in read_knobs(src)] == [("C", 3), ("E", -0.5)]
    assert write_knobs(src, {"C": 30, "E": 1.25}) == src.replace("C = 3 ", "C = 30 ").replace("-0.5", "1.25")


def test_knob_mutation_changes_a_knob_and_notes_it():
    op = StructuralEdit(knob_weight=1.0, edits=[])
    for seed in range(10):
        p = op.propose(ctx(seed_source("bm25_rag"), seed))
        assert p.code != seed_source("bm25_rag") and "→" in p.note
        assert validate_source(p.code) == []


def test_offline_knob_edits_keep_catalogue_knobs_in_their_declared_range():
    """temporal declares TIME_POOL 10..100 and TIME_WINDOW_DAYS 1..90: a mutation at the edge stays
    there or moves inward, while a knob no component declares (the seed's TOP_K) still moves freely;
    random samples cover the declared range, not ×/÷4 around the program's value (3.5..56 days)."""
    from design_space.catalogue import COMPONENTS
    from evolve.operators.pipeline_edits import insert_at
    from evolve.operators.random_sample import RandomSample

    spec = {s.name: s for s in COMPONENTS["temporal"].knobs}
    base = insert_at(seed_source("bm25_rag"), "hits", COMPONENTS["temporal"], 0)
    edge = write_knobs(base, {"TIME_POOL": 100, "TIME_WINDOW_DAYS": 90.0, "TOP_K": 40})
    op = StructuralEdit(knob_weight=1.0, edits=[], max_knobs=8)
    seen: dict[str, list] = {}
    for seed in range(120):
        try:
            child = op.propose(ctx(edge, seed)).code
        except OperatorError:  # every picked knob was at its edge and pushed outward: no child
            continue
        for k in read_knobs(child):
            seen.setdefault(k.name, []).append(k.value)
    for name in ("TIME_POOL", "TIME_WINDOW_DAYS"):
        assert all(spec[name].low <= v <= spec[name].high for v in seen[name]), (name, max(seen[name]))
        assert min(seen[name]) < spec[name].high  # mutated inward, not frozen at the edge
    assert max(seen["TOP_K"]) > 40

    sampler = RandomSample({"t": base}, max_edits=0)
    days = [next(k.value for k in read_knobs(sampler.propose(ctx(base, s)).code) if k.name == "TIME_WINDOW_DAYS")
            for s in range(200)]
    assert all(1.0 <= d <= 90.0 for d in days) and max(days) > 56.0 and min(days) < 3.5


def test_swap_index_runs_and_changes_the_index():
    code, note = swap_index(seed_source("bm25_rag"), random.Random(0))
    assert "BM25Index" in note and ("DenseIndex(" in code or "HybridIndex(" in code)
    res = run(code)
    assert res.status == "ok" and res.metrics["recall"] > 0


def test_swap_index_refuses_programs_using_index_internals():
    assert swap_index(seed_source("hybrid_rrf"), random.Random(0)) is None  # it reads index.dense


def test_swap_index_offers_only_indexes_with_the_methods_a_program_calls():
    # mem0 calls index.update and generative_agents index.similarities: of the other indexes only
    # the compact dense one has them, so it is the one target, whatever the draw
    for seed in ("mem0", "generative_agents"):
        notes = {swap_index(seed_source(seed), random.Random(r))[1] for r in range(6)}
        assert notes == {"swap self.index's DenseIndex for a CompactDenseIndex"}, (seed, notes)
    code, _ = swap_index(seed_source("mem0"), random.Random(0))
    res = run(code)
    assert res.status == "ok" and res.metrics["recall"] > 0, res.error


@pytest.mark.parametrize("name", ["dense_rag", "memorybank"])
def test_swap_index_applies_to_every_program_using_only_the_common_interface(name):
    # an import of dense_index (a substring ".dense") must not block the swap
    code, note = swap_index(seed_source(name), random.Random(1))
    assert "DenseIndex for a" in note and validate_source(code) == []
    assert "from design_space.components.store.dense_index import" not in code  # no unused import left
    res = run(code)
    assert res.status == "ok" and res.metrics["recall"] > 0, res.error


def test_swap_index_round_trip_leaves_no_dead_knobs():
    code = seed_source("bm25_rag")
    seen = set()
    for seed in range(12):
        code, note = swap_index(code, random.Random(seed))
        seen.add(note.split()[-1])
        assert validate_source(code) == []
        names = {k.name for k in read_knobs(code)}
        for knob in names:  # every knob is read somewhere besides its own line
            assert code.count(knob) >= 2, (knob, note)
        if "BM25Index(" in code or "HybridIndex(" in code:
            assert any(n in names for n in ("K1", "INDEX_K1")) and any(n in names for n in ("B", "INDEX_B"))
        else:
            assert not names & {"K1", "B", "INDEX_K1", "INDEX_B"}
    assert seen == {"BM25Index", "DenseIndex", "HybridIndex", "CompactDenseIndex"}  # back as well as forth
    assert run(code).status == "ok"


@pytest.mark.parametrize("edit", [add_context, add_neighbours])
def test_wrappers_run_and_unwrap(edit):
    base = seed_source("bm25_rag")
    code, note = edit(base, random.Random(0))
    assert validate_source(code) == [] and note
    assert edit(code, random.Random(0)) is None  # one layer of a kind
    res = run(code)
    assert res.status == "ok" and res.metrics["recall"] > 0
    undone, how = remove_step(code, random.Random(0))
    assert "remove" in how and validate_source(undone) == []
    assert run(undone).per_item == run(base).per_item
    # every line as it was, but the import the layer needed (other layers may still use it)
    extra = "from design_space import Event as _Event, MemoryProgram, Recall as _Recall, RecallItem as _RecallItem\n"
    assert undone.replace(extra, "", 1) == base
    other = add_neighbours if edit is add_context else add_context
    two, _ = other(code, random.Random(0))
    assert remove_step(two, random.Random(0))[0] == code  # the outer layer only


def test_neighbours_recalls_the_turn_after_a_hit(tmp_path):
    # The answer ("Porto") shares no word with the question; only the turn before it does.
    turns = ["We talked about the weather.", "Where did Maria move last spring?", "She moved to Porto.",
             "Dinner was pasta tonight.", "The match ended in a draw."]
    base = seed_source("bm25_rag").replace("TOP_K = 10", "TOP_K = 1")
    code, _ = add_neighbours(base, random.Random(0))

    def recalled(source: str) -> list[str]:
        mem = load_program(source, str(tmp_path))(Kit())
        for i, text in enumerate(turns):
            mem.store(mem.encode(Event(f"e{i}", text, 1_700_000_000.0 + i, "user", "s0")))
        recall = mem.retrieve(Query("q", "Where did Maria move last spring?", 1_700_000_100.0, 200))
        return [i for item in recall.items for i in item.source_ids]

    assert recalled(base) == ["e1"]
    assert recalled(code) == ["e1", "e0", "e2"]  # the hit first, then the turns around it


def test_remove_manage_step_empties_manage():
    code, note = remove_step(seed_source("mem0"), random.Random(0))
    assert "manage" in note and validate_source(code) == []


def test_no_applicable_edit_is_an_operator_error():
    src = seed_source("recency_window").replace("WINDOW = 64", "_WINDOW = 64").replace("SHOW_SPEAKER = True", "")
    src = src.replace("int(WINDOW)", "int(_WINDOW)").replace("SHOW_SPEAKER and ", "")
    assert validate_source(src) == []
    op = StructuralEdit(edits=["swap_index", "remove_step"])
    with pytest.raises(OperatorError, match="no structural edit"):
        op.propose(ctx(src))


def test_component_edits_reach_every_slot_and_undo_exactly():
    from design_space.catalogue import COMPONENTS
    from evolve.operators.pipeline_edits import insert_at, present, remove_at, replace_at

    base = seed_source("bm25_rag")
    for comp in COMPONENTS.values():
        if comp.slot == "index" or comp.name == "neighbours":
            continue
        code = insert_at(base, comp.slot, comp, 0)
        assert validate_source(code) == [] and present(code)[comp.slot][0] == comp.name
        knobs = {k.name for k in read_knobs(code)}
        assert {k.name for k in comp.knobs} <= knobs and comp.import_line() in code
        assert remove_at(code, comp.slot, 0) == base  # the line, its knobs and its import go together
    code = insert_at(base, "hits", COMPONENTS["rerank"], 0)
    swapped = replace_at(code, "hits", 0, COMPONENTS["multihop"])
    assert present(swapped)["hits"] == ["multihop", "neighbours"] and "RERANK_POOL" not in swapped
    assert "rerank_coverage" not in swapped and validate_source(swapped) == []


def test_structural_operator_builds_runnable_component_pipelines():
    op = StructuralEdit(knob_weight=0.0, edits=["insert_component", "replace_component", "remove_component"])
    code = seed_source("dense_rag")
    notes = []
    for seed in range(8):
        p = op.propose(ctx(code, seed))
        code = p.code
        notes.append(p.note)
    assert any(n.startswith("insert") for n in notes)
    res = run(code)
    assert res.status == "ok" and res.metrics["recall"] > 0, (notes, res.error)


def test_graft_takes_one_slot_of_the_second_parent_with_its_knobs():
    from evolve.operators.component_crossover import ComponentCrossover
    from evolve.operators.pipeline_edits import COMPONENTS, insert_at, present

    a = seed_source("dense_rag")
    b = insert_at(seed_source("bm25_rag"), "hits", COMPONENTS["temporal"], 0).replace("TIME_WEIGHT = 0.5", "TIME_WEIGHT = 1.75")
    op = ComponentCrossover()
    seen = set()
    for seed in range(12):
        p = op.propose(OperatorContext(parents=[CandidateView("c1", a), CandidateView("c2", b)], rng=random.Random(seed)))
        slot = p.meta["slot"]
        seen.add(slot)
        got = present(p.code)
        assert got[slot] == present(b)[slot] and validate_source(p.code) == []
        for other in set(got) - {slot}:
            assert got[other] == present(a)[other]
        if slot == "hits":
            assert "TIME_WEIGHT = 1.75" in p.code and "MIN_SIMILARITY" in p.code  # B's value; A's own lines stay
        if slot == "index":
            assert "BM25Index(K1, B)" in p.code and "K1 = 1.2" in p.code and "DenseIndex" not in p.code
    assert seen == {"hits", "index"}
    assert run(p.code).status == "ok"
    with pytest.raises(OperatorError, match="no differing"):
        op.propose(OperatorContext(parents=[CandidateView("c1", a), CandidateView("c2", a)], rng=random.Random(0)))


def test_segment_is_the_source_of_every_node():
    import ast

    from design_space.seeds import seed_names
    from evolve.operators.source_edits import segment

    sources = [seed_source(name) for name in seed_names()]
    sources.append('x = "héllo wörld"; y = f"{x!r:>10}"\nz = (1 +\n     2)  # ünïcode\n')
    checked = 0
    for code in sources:
        lines = code.splitlines(keepends=True)
        for node in ast.walk(ast.parse(code)):
            if getattr(node, "end_col_offset", None) is not None:
                assert segment(lines, node) == ast.get_source_segment(code, node)
                checked += 1
    assert checked > 1000


def test_an_unknown_component_in_an_allow_list_is_refused_by_name():
    from evolve.operators.random_sample import RandomSample

    for make in (lambda: StructuralEdit(components=["bm25", "no_such_step"]),
                 lambda: RandomSample({"s": "x"}, components=["no_such_step"])):
        with pytest.raises(ValueError, match="unknown component 'no_such_step'"):
            make()
