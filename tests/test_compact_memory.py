"""Memory-reducing exemplar components: quantised packed index, condensing, distance-weighted label vote.

Each test fails if its component stores everything, never shrinks the memory, or does not
change what is recalled; the last one runs a searched-for structure on real BANKING77 data
in the process sandbox."""
from __future__ import annotations

import pickle
import random

import numpy as np
from data_paths import need

from design_space.catalogue import COMPONENTS
from design_space.components.manage.condense import condense
from design_space.components.retrieve.label_vote import vote_labels
from design_space.components.retrieve.lexical import blend_lexical
from design_space.components.store.compact_dense_index import CompactDenseIndex
from design_space.components.store.dense_index import DenseIndex
from design_space.components.store.turns import Turn, Turns
from design_space.contract import Event, Query, Signal
from design_space.embedders import HashingEmbedder
from design_space.seeds import seed_source
from evolve.operators.base import CandidateView, OperatorContext, OperatorError
from evolve.operators.index_swap import swap_index
from evolve.operators.structural import StructuralEdit
from evolve.operators.pipeline_edits import insert_at, present
from sandboxes.backends.process import ProcessSandbox
from sandboxes.job import Job

EMBED = HashingEmbedder(256).embed
WORDS = "card lost stolen blocked transfer pending refund fee cash atm pin exchange rate top up declined".split()


def texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.sample(WORDS, 4)) + f" item{i}" for i in range(n)]


def test_compact_index_ranks_like_float32_in_a_quarter_of_the_bytes_and_frees_removed_rows():
    docs = texts(400)
    full, small, half = DenseIndex(EMBED), CompactDenseIndex(EMBED, bits=8), CompactDenseIndex(EMBED, bits=16)
    for d in docs:
        full.add(d), small.add(d), half.add(d)
    queries = texts(30, seed=1)
    agree = sum(full.search(q, 1)[0][0] == small.search(q, 1)[0][0] for q in queries)
    assert agree >= 28
    assert [d for d, _ in half.search(queries[0], 5)] == [d for d, _ in full.search(queries[0], 5)]
    vec_bytes = 400 * full.vectors().shape[1] * 4
    size = len(pickle.dumps(small))
    assert size < 0.4 * vec_bytes  # int8 codes, no texts once embedded, no growth slack
    assert len(pickle.dumps(half)) < 0.65 * vec_bytes
    for d in range(0, 400, 2):
        small.remove(d)
    assert len(pickle.dumps(small)) < 0.6 * size
    assert all(d % 2 == 1 for d, _ in small.search(docs[10], 20))
    assert small.search(docs[11], 1)[0][0] == 11  # the row moved into a hole still answers for its document
    small.update(11, "something else entirely")
    assert small.search("something else entirely", 1)[0][0] == 11


def labelled_table(index, rows: list[tuple[str, str]]) -> Turns:
    table = Turns()
    for i, (text, label) in enumerate(rows):
        table.append(Turn(f"e{i}", text, "warm", 0.0, "", text, label))
        index.add(text)
    return table


def test_condense_drops_interior_examples_and_keeps_the_boundary():
    rng = random.Random(3)
    rows = [(" ".join(rng.sample(WORDS[:7], 4)), "card") for _ in range(60)]
    rows += [(" ".join(rng.sample(WORDS[7:], 4)), "money") for _ in range(60)]
    rows += [("card lost refund fee", "card"), ("card lost refund fee cash", "money")]  # a contested point
    index = CompactDenseIndex(EMBED)
    table = labelled_table(index, rows)
    index.vectors()  # embedded: the index holds vectors, not texts
    before = len(pickle.dumps((table, index)))
    condense(Signal(kind="session_end"), table, index, k=3, margin=1.0)
    kept = list(table.live())
    assert 2 <= len(kept) < 0.7 * len(rows)  # neither everything nor nothing
    assert {table[n].label for n in kept} == {"card", "money"}
    assert len(pickle.dumps((table, index))) < 0.8 * before
    assert len(index) == len(kept)
    condense(Signal(kind="feedback"), table, index, k=3, margin=1.0)  # nothing new: nothing more goes
    assert list(table.live()) == kept


def test_label_vote_recalls_one_label_and_power_decides_between_nearest_and_majority():
    index = DenseIndex(EMBED)
    rows = [("atm cash pin declined", "atm")] + [(f"atm cash refund fee extra{i}", "fee") for i in range(3)]
    table = labelled_table(index, rows)
    q = "atm cash pin declined"
    hits = index.search(q, 4)
    assert {table[d].label for d, _ in hits} == {"atm", "fee"}
    majority = vote_labels(hits, q, Query(id="q", text=q), table, index, pool=4, power=0.0)
    nearest = vote_labels(hits, q, Query(id="q", text=q), table, index, pool=4, power=12.0)
    assert {table[d].label for d, _ in majority} == {"fee"}
    assert [table[d].label for d, _ in nearest] == ["atm"]
    unlabelled = Turns()
    unlabelled.append(Turn("t0", q, "s", 0.0, "", q))
    assert vote_labels([(0, 1.0)], q, Query(id="q", text=q), unlabelled, index, pool=4) == [(0, 1.0)]


def test_turns_keep_the_feedback_label_of_an_event():
    assert Turn.of(Event(id="x", text="hi", meta={"label": "greet"}), "hi").label == "greet"
    assert Turn.of(Event(id="y", text="hi"), "hi").label == ""


def test_operators_reach_the_components_and_the_structure_shrinks_banking77_memory():
    need("banking77/train.csv")
    base = seed_source("dense_rag")
    rng = random.Random(0)
    swapped = None
    for _ in range(50):
        out = swap_index(base, rng)
        if out and "CompactDenseIndex" in out[0]:
            swapped = out[0]
            break
    assert swapped is not None, "swap_index never reached the compact index"
    condensed = insert_at(swapped, "turns", COMPONENTS["condense"], 0)
    voted = insert_at(condensed, "hits", COMPONENTS["label_vote"], 0).replace("CONDENSE_K = 5", "CONDENSE_K = 1")
    assert present(voted)["turns"] == ["condense"] and present(voted)["hits"] == ["label_vote"]

    def run(code: str) -> dict:
        r = ProcessSandbox().run(Job(program=code, task="banking77", task_params={"split": "search"}, fidelity="smoke"))
        assert r.status == "ok" and not r.error, r.error
        return r.metrics

    plain, small, both = run(base), run(swapped), run(voted)
    assert small["memory_kb"] < 0.6 * plain["memory_kb"]
    assert both["memory_kb"] < 0.8 * small["memory_kb"]  # condensing removed stored examples
    assert both["accuracy"] > 0.5 * plain["accuracy"] > 0.0


def test_centred_index_scores_the_cosine_of_mean_centred_vectors():
    docs, query = texts(200), "card pin atm declined"
    plain, centred = CompactDenseIndex(EMBED, bits=16), CompactDenseIndex(EMBED, bits=16, centre=True)
    for d in docs:
        plain.add(d), centred.add(d)
    raw = EMBED(docs)
    mu = raw.mean(axis=0)
    x, q = raw - mu, EMBED([query])[0] - mu
    want = x @ q / (np.linalg.norm(x, axis=1) * np.linalg.norm(q))
    got = centred.similarities(query)
    assert np.abs(got - want).max() < 5e-3
    assert np.abs(plain.similarities(query) - want).max() > 0.05  # centring changes the scores
    assert centred.search(query, 1)[0][0] == int(np.argmax(want))
    assert len(pickle.dumps(centred)) < 1.1 * len(pickle.dumps(plain))


def test_lexical_blend_lifts_the_turn_sharing_a_rare_word_and_keeps_the_hit_count():
    def flat(batch):  # a dense ranking blind to words: every text the same vector, ties by order
        return np.ones((len(batch), 4), dtype=np.float32) / 2.0

    index = DenseIndex(flat)
    rows = [(f"card payment pending day{i}", "pending") for i in range(8)] + [("card payment chargeback", "dispute")]
    table = labelled_table(index, rows)
    q = "why was there a chargeback on my card"
    hits = index.search(q, 3)
    assert 8 not in [d for d, _ in hits]
    assert blend_lexical(hits, q, Query(id="q", text=q), table, index, pool=20, weight=0.0) == hits
    mixed = blend_lexical(hits, q, Query(id="q", text=q), table, index, pool=20, weight=0.5)
    assert mixed[0][0] == 8 and len(mixed) == 3
    assert len(table.cache["lexical"][0]) < 20  # document frequencies only: no second index


def test_structural_search_limited_to_an_allow_list_never_builds_other_components():
    allowed = ["dense", "compact_dense", "lexical", "label_vote", "condense"]
    op = StructuralEdit(components=allowed, knob_weight=0.0)
    code, reached = seed_source("dense_rag"), set()
    for seed in range(40):
        try:
            child = op.propose(OperatorContext(parents=[CandidateView("c1", code)], rng=random.Random(seed))).code
        except OperatorError:
            continue
        held = {c for names in present(child).values() for c in names}
        assert held <= set(allowed), held
        reached |= held
        code = child if seed % 3 == 0 else code  # walk a little, so edits build on edits
    assert {"compact_dense", "lexical", "label_vote", "condense"} <= reached
    unrestricted = StructuralEdit(knob_weight=0.0)
    others = set()
    for seed in range(40):
        try:
            child = unrestricted.propose(OperatorContext(parents=[CandidateView("c1", seed_source("dense_rag"))],
                                                         rng=random.Random(seed))).code
        except OperatorError:
            continue
        others |= {c for names in present(child).values() for c in names}
    assert others - set(allowed)  # without the list the same edits reach the rest of the catalogue
