"""Store components: BM25, dense and hybrid indexes, entity graph, tiers, neural associative memory."""
from __future__ import annotations

import numpy as np
import torch

from design_space.components.store.bm25_index import BM25Index
from design_space.components.store.dense_index import DenseIndex
from design_space.components.store.graph_store import EntityGraph
from design_space.components.store.hybrid_index import HybridIndex
from design_space.components.store.neural_store import NeuralMemory, SlotMemory
from design_space.components.store.tiered_store import TierItem, TieredStore
from design_space.embedders import HashingEmbedder

EMBED = HashingEmbedder(256).embed
DOCS = ["Anna has a dog called Rex.", "Rex loves eating carrots.", "Bruno repaired his bicycle.",
        "The weather was rainy in Oslo."]


def test_bm25_matches_the_bm25s_library_on_a_locomo_conversation():
    """The incremental index gives the Lucene BM25 scores bm25s computes from scratch, and the same top 10."""
    import json

    import bm25s
    from data_paths import need

    from design_space.components.encode.entities import tokens
    from design_space.components.store.dense_index import top_k

    sample = json.loads(need("locomo/locomo10.json").read_text())[1]
    conv = sample["conversation"]
    turns = [t["text"] for k, v in conv.items() if k.startswith("session_") and isinstance(v, list) for t in v]
    questions = [q["question"] for q in sample["qa"]]
    idx = BM25Index(k1=1.5, b=0.6)
    for t in turns:
        idx.add(t)
    ref = bm25s.BM25(k1=1.5, b=0.6)
    ref.index([tokens(t) or ["\x00"] for t in turns], show_progress=False)
    idx.remove(7)  # removal masks a document without taking it out of N or the mean length
    checked = 0
    for q in questions:
        if not tokens(q):
            continue
        want = np.asarray(ref.get_scores(tokens(q)), dtype=np.float32)
        want[7] = 0.0
        got = idx.scores(q)
        assert np.allclose(got, want, rtol=1e-5, atol=1e-6), q
        assert [d for d, _ in idx.search(q, 10)] == [d for d, v in top_k(want, 10) if v > 0], q
        checked += 1
    assert checked > 100 and len(turns) > 300


def test_bm25_interleaved_adds_and_searches_match_an_index_built_at_once():
    """Postings grow with each add (no rebuild); scores after each add equal a fresh index's."""
    texts = [f"note {i} about {'cats' if i % 3 else 'dogs'} and the number {i % 7}" for i in range(60)]
    grown = BM25Index()
    for i, text in enumerate(texts):
        grown.add(text)
        if i % 5 == 4:
            fresh = BM25Index()
            for t in texts[: i + 1]:
                fresh.add(t)
            for q in ("dogs number 3", "cats", "note 12"):
                assert np.array_equal(grown.scores(q), fresh.scores(q))
    assert len(grown.postings["dogs"][0]) == 20  # one posting per document holding the word


def test_bm25_ranks_by_term_match_rebuilds_after_adds_and_masks_removed():
    idx = BM25Index()
    for d in DOCS:
        idx.add(d)
    assert idx.search("bicycle repaired")[0][0] == 2
    assert idx.search("zebra") == []
    idx.add("A bicycle race through Oslo.")
    assert {d for d, _ in idx.search("bicycle")} == {2, 4}
    idx.remove(2)
    assert [d for d, _ in idx.search("bicycle")] == [4] and len(idx) == 4


def test_dense_index_embeds_lazily_in_batches_and_supports_update_and_remove():
    calls = []

    def embed(texts):
        calls.append(len(texts))
        return EMBED(texts)

    idx = DenseIndex(embed)
    for d in DOCS:
        idx.add(d)
    assert calls == []
    assert idx.search("Bruno repaired his bicycle", 1)[0][0] == 2
    assert calls[0] == 4  # one batch for all queued documents
    idx.update(3, "Bruno bought a bicycle bell")
    assert idx.search("bicycle bell", 1)[0][0] == 3
    idx.remove(3)
    assert 3 not in [d for d, _ in idx.search("bicycle bell", 4)]
    assert abs(float(np.linalg.norm(idx.vector(0))) - 1.0) < 1e-5


def test_a_repeated_question_is_scored_once_until_the_index_changes():
    import pickle

    embedded = []

    def embed(texts):
        embedded.extend(texts)
        return EMBED(texts)

    bm25, dense = BM25Index(), DenseIndex(embed)
    for d in DOCS:
        bm25.add(d)
        dense.add(d)
    q = "Rex the dog"
    first_b, first_d = bm25.scores(q), dense.similarities(q)
    n = len(embedded)
    first_b[:] = -1.0  # a caller's change to its copy reaches neither cache
    first_d[:] = -1.0
    assert np.array_equal(bm25.scores(q), BM25Index.scores(_fresh_bm25(DOCS), q))
    assert dense.similarities(q).max() > 0 and len(embedded) == n  # the question was not embedded again
    # every change shows in the next answer to the same question
    bm25.add("Rex and Anna walk the dog")
    dense.add("Rex and Anna walk the dog")
    assert len(bm25.scores(q)) == 5 and bm25.scores(q)[4] > 0 and 4 in [d for d, _ in bm25.search(q, 2)]
    assert len(dense.similarities(q)) == 5 and 4 in [d for d, _ in dense.search(q, 2)]
    bm25.remove(4)
    dense.remove(4)
    assert bm25.scores(q)[4] == 0.0 and dense.similarities(q)[4] == -np.inf
    dense.update(1, "Rex the dog sleeps")
    assert dense.search(q, 1)[0][0] == 1
    # the caches are not part of the memory: a 256-dim question vector alone would add 1 KB
    fresh_b, fresh_d = _fresh_bm25(DOCS), DenseIndex(EMBED)
    for d in DOCS:
        fresh_d.add(d)
    fresh_d.vectors()
    before = len(pickle.dumps(fresh_b)), len(pickle.dumps(fresh_d))
    fresh_b.scores("a long question about Rex the dog and Anna"), fresh_d.search("a question about Rex", 2)
    after = len(pickle.dumps(fresh_b)), len(pickle.dumps(fresh_d))
    assert after[0] == before[0] and after[1] - before[1] < 128  # the dense one keeps its alive mask


def _fresh_bm25(docs):
    idx = BM25Index()
    for d in docs:
        idx.add(d)
    return idx


def test_hybrid_index_fuses_sparse_and_dense():
    idx = HybridIndex(EMBED)
    for d in DOCS:
        idx.add(d)
    hits = idx.search("what does Rex eat carrots", 2)
    assert hits[0][0] == 1 and len(hits) == 2


def test_entity_graph_reaches_two_hops_with_personalised_pagerank():
    g = EntityGraph()
    g.add_passage(["anna", "dog", "rex"])  # 0
    g.add_passage(["rex", "carrots"])  # 1
    g.add_passage(["bruno", "bicycle"])  # 2
    ranked = dict(g.rank_passages({"anna": 1.0}))
    assert ranked[0] > ranked[1] > 0 and 2 not in ranked
    assert g.specificity("rex") == 0.5 and g.neighbours(2) == ["bruno", "bicycle"]
    assert g.rank_passages({"nobody": 1.0}) == []
    g.add_passage(["carrots", "bruno"])  # the graph grows: the cached arrays are rebuilt
    assert 3 in dict(g.rank_passages({"anna": 1.0}))


def test_tiered_store_evicts_oldest_to_archival_and_finds_it_there():
    tiers = TieredStore(EMBED, recall_tokens=30, flush_fraction=0.5)
    evicted = []
    for i in range(10):
        evicted += tiers.append(TierItem(f"message {i} about topic{i}", (f"e{i}",), i, tokens=5))
    assert evicted and evicted[0].source_ids == ("e0",)
    assert sum(it.tokens for it in tiers.recall) <= 30
    found = tiers.search_archival("topic0", 1)
    assert found[0][0].source_ids == ("e0",)
    assert tiers.search_recall({"topic9"})[0].source_ids == ("e9",)
    tiers.core.append("human", "Name: Anna")
    assert tiers.core.replace("human", "Anna", "Anne") and tiers.core.items()[0][1] == "Name: Anne"


def test_core_memory_respects_its_size_limit():
    tiers = TieredStore(EMBED)
    tiers.core.limit = 40
    for i in range(10):
        tiers.core.append("human", f"fact number {i} is here")
    lines = [t for _, t, _ in tiers.core.items()]
    assert sum(len(t) + 1 for t in lines) <= 40 and lines[-1] == "fact number 9 is here"


def test_neural_memory_recalls_associations_after_many_writes():
    gen = torch.Generator().manual_seed(0)
    n, d = 300, 256
    keys = torch.nn.functional.normalize(torch.randn(n, d, generator=gen), dim=1)
    values = torch.nn.functional.normalize(torch.randn(n, d, generator=gen), dim=1)
    mem = NeuralMemory(d, d, hidden=128, lr=0.8, momentum=0.1)
    for k, v in zip(keys, values):
        mem.write(k, v)
    out = torch.nn.functional.normalize(mem.read(keys), dim=1)
    accuracy = float(((out @ values.T).argmax(1) == torch.arange(n)).float().mean())
    assert accuracy > 0.9
    fresh = torch.nn.functional.normalize(torch.randn(2, d, generator=gen), dim=1)
    assert mem.surprise(keys[-1], values[-1]) < 0.5 < 0.9 < mem.surprise(fresh[0], fresh[1])


def test_neural_memory_gates_unsurprising_writes_and_forgets_with_decay():
    d = 64
    k = torch.nn.functional.normalize(torch.randn(d, generator=torch.Generator().manual_seed(1)), dim=0)
    mem = NeuralMemory(d, d, hidden=0, lr=1.0, momentum=0.0, surprise_threshold=0.1)
    assert mem.write(k, k) and not mem.write(k, k)
    assert (mem.writes, mem.skipped) == (1, 1)
    leaky = NeuralMemory(d, d, hidden=0, lr=1.0, momentum=0.0, forget=0.2)
    leaky.write(k, k)
    before = float(leaky.read(k) @ k)
    other = torch.nn.functional.normalize(torch.randn(d, generator=torch.Generator().manual_seed(2)), dim=0)
    for _ in range(5):
        leaky.write(other, other)
    assert float(leaky.read(k) @ k) < 0.5 * before


def test_slot_memory_stays_within_its_slots_and_frees_the_faded_ones():
    gen = torch.Generator().manual_seed(3)
    keys = torch.nn.functional.normalize(torch.randn(200, 64, generator=gen), dim=1)
    mem = SlotMemory(64, 32, code_dim=64, hidden=0, lr=0.5, momentum=0.0, forget=0.02, surprise_threshold=0.3)
    for i, k in enumerate(keys):
        mem.write(k, i)
    assert len(mem) <= 32 and mem.writes == 200 and mem.evicted >= 200 - 32
    kept = {p for p in mem.payload if p is not None}
    assert min(kept) >= 120  # weight decay faded the old associations, and they were the ones freed
    assert sum(mem.read(keys[i], 1)[0][0] == i for i in range(190, 200)) >= 9
    assert mem.write(keys[199], "again") is None and mem.skipped == 1  # M already maps it: no surprise


def test_entity_graph_synonym_edges_carry_pagerank_between_two_names():
    g = EntityGraph()
    g.add_passage(["priya", "ines moreau"])
    g.add_passage(["dr ines moreau", "porto"])
    assert [p for p, _ in g.rank_passages({"priya": 1.0})] == [0]
    g.add_synonym("ines moreau", "dr ines moreau", 0.8)
    assert [p for p, _ in g.rank_passages({"priya": 1.0})] == [0, 1]
    assert [p for p, _ in g.rank_passages({}, passage_seeds={1: 1.0})][0] == 1
