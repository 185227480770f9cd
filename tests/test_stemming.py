"""Porter stemming of the lexical index: the algorithm as published, and what it changes in a search."""
from __future__ import annotations

import json

import pytest
from data_paths import need

from design_space.components.encode.entities import tokens
from design_space.components.encode.stemming import stem
from design_space.components.store.bm25_index import BM25Index
from design_space.components.store.hybrid_index import HybridIndex
from design_space.embedders import HashingEmbedder


@pytest.mark.parametrize("word,want", [  # examples printed in Porter (1980), one per rule family
    ("caresses", "caress"), ("ponies", "poni"), ("cats", "cat"), ("feed", "feed"), ("agreed", "agre"),
    ("plastered", "plaster"), ("motoring", "motor"), ("sing", "sing"), ("conflated", "conflat"),
    ("hopping", "hop"), ("falling", "fall"), ("filing", "file"), ("happy", "happi"), ("sky", "sky"),
    ("relational", "relat"), ("conditional", "condit"), ("digitizer", "digit"), ("hopefulness", "hope"),
    ("generalizations", "gener"), ("oscillators", "oscil"), ("adjustment", "adjust"), ("adoption", "adopt"),
    ("controlling", "control"), ("rolling", "roll"), ("probate", "probat"), ("rate", "rate"),
])
def test_stems_follow_the_published_examples(word, want):
    assert stem(word) == want


def test_stems_equal_the_reference_implementation_on_every_word_of_locomo():
    """nltk's Porter stemmer in its original-algorithm mode is the reference (words of 3+ letters;
    shorter ones pass unchanged here, as in Porter's own C release)."""
    from nltk.stem.porter import PorterStemmer

    ref = PorterStemmer(mode=PorterStemmer.ORIGINAL_ALGORITHM)
    vocab = set()
    for sample in json.loads(need("locomo/locomo10.json").read_text()):
        for key, turns in sample["conversation"].items():
            if key.startswith("session_") and isinstance(turns, list):
                vocab.update(w for t in turns for w in tokens(t["text"]) if w.isascii() and w.isalpha())
    words = sorted(w for w in vocab if len(w) >= 3)
    assert len(words) > 4000
    assert [w for w in words if stem(w) != ref.stem(w)] == []
    assert sum(stem(w) != w for w in words) > 1500  # it does strip suffixes
    assert stem("café") == "café" and stem("x2") == "x2"  # not ASCII letters: unchanged


def test_a_stemmed_index_matches_other_forms_of_a_word_and_the_plain_one_does_not():
    docs = ["Melanie painted a sunset last weekend", "Caroline went hiking with friends", "We talked about dogs"]
    plain, stemmed = BM25Index(), BM25Index(stem=True)
    for d in docs:
        plain.add(d)
        stemmed.add(d)
    assert plain.search("paintings of sunsets") == []
    assert [d for d, _ in stemmed.search("paintings of sunsets")] == [0]
    assert [d for d, _ in stemmed.search("hikes")] == [1] and plain.search("hikes") == []
    # the same words in the same form score the same either way when stemming changes nothing
    assert plain.search("dogs") and [d for d, _ in stemmed.search("dogs")] == [d for d, _ in plain.search("dogs")]


def test_the_hybrid_index_passes_stemming_to_its_sparse_half():
    idx = HybridIndex(HashingEmbedder(64).embed, stem=True)
    for d in ["Melanie painted a sunset", "Caroline went hiking"]:
        idx.add(d)
    assert idx.sparse.stem and [d for d, _ in idx.sparse.search("paintings")] == [0]
