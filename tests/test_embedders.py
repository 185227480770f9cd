"""Embedders: the hashing default, MiniLM from its PyPI wheel, and the static model distilled from it."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest

from design_space.embedders import EMBEDDERS, HashingEmbedder, StaticEmbedder, get_embedder
from design_space.kit import Kit

PAIRS = ("A man is playing a guitar.", "Someone performs music on a string instrument.", "The stock market fell today.")


def _check_rows(vecs: np.ndarray, n: int, dim: int) -> None:
    assert vecs.shape == (n, dim) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)


def test_hashing_embedder_is_deterministic_normalised_and_lexical():
    emb = get_embedder("hashing")
    vecs = emb.embed(["Anna lives in Oslo", "Anna lives in Oslo now", "bicycles and trains"])
    _check_rows(vecs, 3, 256)
    assert vecs[0] @ vecs[1] > 0.8 > vecs[0] @ vecs[2]
    assert np.array_equal(vecs, HashingEmbedder(256).embed(["Anna lives in Oslo", "Anna lives in Oslo now",
                                                             "bicycles and trains"]))
    assert get_embedder("hashing-64").dim == 64
    assert np.all(emb.embed([""]) == 0)  # no features: a zero row, not NaN


def test_unknown_embedder_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown embedder 'bert'.*hashing, minilm, static"):
        get_embedder("bert")
    assert EMBEDDERS == ("hashing", "minilm", "static")


def test_minilm_embeds_by_meaning_offline():
    emb = get_embedder("minilm")
    vecs = emb.embed(list(PAIRS))
    _check_rows(vecs, 3, 384)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.2  # related in meaning, not in words
    assert emb.embed([]).shape == (0, 384)
    kit = Kit(embedder=emb)
    assert kit.embed(["x"]).shape == (1, 384)


@pytest.mark.slow
def test_static_embedder_distils_once_then_loads_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMARCH_CACHE", str(tmp_path))
    t0 = time.perf_counter()
    first = StaticEmbedder()
    distil_s = time.perf_counter() - t0
    assert (first.path / "config.json").exists() and str(first.path).startswith(str(tmp_path))
    mtime = os.path.getmtime(first.path / "config.json")
    t0 = time.perf_counter()
    second = get_embedder("static")
    assert time.perf_counter() - t0 < distil_s and os.path.getmtime(second.path / "config.json") == mtime
    vecs = second.embed(list(PAIRS))
    _check_rows(vecs, 3, second.dim)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2]
