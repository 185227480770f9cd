"""The label model: a softmax regression over the stored vectors, mixed into the k-NN label vote.

Each test fails if the model is never fitted, never changes the vote, hides from the footprint,
or breaks programs whose index has no vectors; the last one runs it in the process sandbox on
real BANKING77 data."""
from __future__ import annotations

import pickle

import numpy as np
from data_paths import need

from design_space.catalogue import COMPONENTS
from design_space.components.retrieve.label_model import fit_softmax, vote_with_model
from design_space.components.retrieve.label_vote import vote_labels
from design_space.components.store.bm25_index import BM25Index
from design_space.components.store.dense_index import DenseIndex
from design_space.components.store.turns import Turn, Turns
from design_space.contract import Query
from design_space.seeds import seed_source
from evolve.operators.pipeline_edits import insert_at, present
from sandboxes.backends.process import ProcessSandbox
from sandboxes.job import Job


def clusters(seed: int = 0) -> tuple[dict[str, np.ndarray], list[tuple[str, str]]]:
    """40 'fee' texts around one direction, 40 'atm' around another, and one 'atm' text
    mislabelled into the middle of the fee cluster: its nearest neighbour is wrong about it."""
    rng = np.random.default_rng(seed)
    vec, rows = {}, []
    for label, axis in (("fee", 0), ("atm", 1)):
        for i in range(40):
            v = rng.normal(0, 0.15, 8)
            v[axis] += 1.0
            vec[f"{label} {i}"] = v
            rows.append((f"{label} {i}", label))
    vec["odd one"] = np.eye(8)[0] * 1.0
    rows.append(("odd one", "atm"))
    vec["question"] = np.eye(8)[0] * 1.0 + 0.01
    return vec, rows


def embed_from(vec: dict[str, np.ndarray]):
    def embed(batch):
        out = np.array([vec[t] for t in batch], dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)
    return embed


def table_of(index, rows) -> Turns:
    table = Turns()
    for i, (text, label) in enumerate(rows):
        table.append(Turn(f"e{i}", text, "warm", 0.0, "", text, label))
        index.add(text)
    return table


def test_softmax_regression_fits_separable_labels():
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(0, 0.1, (30, 4)) + np.eye(4)[k] for k in range(3)]).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = np.repeat(np.arange(3), 30)
    w, b = fit_softmax(x, y, 3, steps=200)
    assert w.shape == (4, 3) and ((x @ w + b).argmax(1) == y).mean() == 1.0


def test_the_model_overrules_a_nearest_neighbour_the_cluster_contradicts():
    vec, rows = clusters()
    index = DenseIndex(embed_from(vec))
    table = table_of(index, rows)
    q = "question"
    hits = index.search(q, 1)
    assert table[hits[0][0]].text == "odd one"  # the one nearest is the mislabelled 'atm'
    query = Query(id="q", text=q)
    voted = vote_labels(hits, q, query, table, index, pool=1, power=1.0)
    plain = vote_with_model(hits, q, query, table, index, pool=1, power=1.0, weight=0.0)
    assert [table[d].label for d, _ in voted] == [table[d].label for d, _ in plain] == ["atm"]
    assert "label_model" not in table.cache  # weight 0: no model is fitted
    mixed = vote_with_model(hits, q, query, table, index, pool=1, power=1.0, weight=2.0)
    assert [table[d].label for d, _ in mixed] == ["fee"]  # no voter said fee: its latest example stands in
    assert mixed == [(table.cache["label_model"]["example"]["fee"], 0.0)]


def test_the_model_is_refitted_as_the_memory_grows_and_counts_in_the_footprint():
    vec, rows = clusters()
    index = DenseIndex(embed_from(vec))
    table = table_of(index, rows[:40] + rows[40:60])  # 40 fee, 20 atm
    query = Query(id="q", text="question")
    before = len(pickle.dumps(table))
    vote_with_model(index.search("question", 3), "question", query, table, index, weight=1.0)
    model = table.cache["label_model"]
    assert model["at"] == 60 and model["labels"] == ["atm", "fee"]
    assert len(pickle.dumps(table)) >= before + model["w"].nbytes  # the weights are memory
    for text, label in rows[60:70]:  # +10 turns: under a quarter more, the fit stands
        table.append(Turn(f"x{text}", text, "s", 0.0, "", text, label))
        index.add(text)
    vote_with_model(index.search("question", 3), "question", query, table, index, weight=1.0)
    assert table.cache["label_model"] is model
    for text, label in rows[70:]:  # 81 turns now: refitted
        table.append(Turn(f"x{text}", text, "s", 0.0, "", text, label))
        index.add(text)
    vote_with_model(index.search("question", 3), "question", query, table, index, weight=1.0)
    assert table.cache["label_model"]["at"] == 81


def test_without_vectors_it_is_the_plain_vote():
    rows = [("atm cash pin declined", "atm")] + [(f"atm cash refund fee extra{i}", "fee") for i in range(3)]
    index = BM25Index()
    table = table_of(index, rows)
    q = "atm cash pin declined"
    query = Query(id="q", text=q)
    hits = index.search(q, 4)
    for power in (0.0, 12.0):
        assert vote_with_model(hits, q, query, table, index, pool=4, power=power, weight=3.0) == \
            vote_labels(hits, q, query, table, index, pool=4, power=power)
    assert "label_model" not in table.cache


def test_a_table_without_labels_is_not_scanned_again_per_query():
    vec, rows = clusters()
    index = DenseIndex(embed_from(vec))
    table = table_of(index, [(text, "") for text, _label in rows])  # a conversation: no labels
    query = Query(id="q", text="question")
    hits = index.search("question", 3)
    assert vote_with_model(hits, "question", query, table, index, weight=1.0) == hits
    assert table.cache["label_model"] == {"at": len(rows), "labels": []}
    seen = table.cache["label_model"]
    assert vote_with_model(hits, "question", query, table, index, weight=1.0) == hits
    assert table.cache["label_model"] is seen  # no refit until the table grows by a quarter


def test_a_program_with_the_label_model_runs_in_the_sandbox_and_pays_for_it_in_memory():
    need("banking77/train.csv")
    base = insert_at(seed_source("dense_rag"), "hits", COMPONENTS["label_vote"], 0)
    modelled = insert_at(seed_source("dense_rag"), "hits", COMPONENTS["label_model"], 0)
    assert present(modelled)["hits"] == ["label_model"] and "MODEL_WEIGHT = 1.0" in modelled

    def run(code: str) -> dict:
        r = ProcessSandbox().run(Job(program=code, task="banking77", task_params={"split": "search"}, fidelity="smoke"))
        assert r.status == "ok" and not r.error, r.error
        return r.metrics

    voted, mixed = run(base), run(modelled)
    assert mixed["accuracy"] > 0.0 and voted["accuracy"] > 0.0
    assert mixed["memory_kb"] > voted["memory_kb"] + 1.0  # the fitted weights are counted
