"""The content-addressed embedding cache: built once on the trusted side, read inside sandboxes."""
from __future__ import annotations

import numpy as np

from design_space.embedders import get_embedder
from sandboxes.backends.process import ProcessSandbox
from sandboxes.embed_cache import CachedEmbedder, EmbedCache, build, stream_texts
from sandboxes.job import Job
from sandboxes.tasks import get_task


def test_build_once_then_everything_hits(tmp_path):
    s = get_task("synthetic").build({}, "full", 0)
    first = build(s.episodes, "hashing", tmp_path)
    texts = stream_texts(s.episodes)
    assert first["texts"] == len(texts) == first["computed"] > 50
    assert build(s.episodes, "hashing", tmp_path)["computed"] == 0
    # A second task adds only what is new: shared chit-chat is not embedded twice.
    other = get_task("synthetic").build({}, "full", 1)
    new = {t for t in stream_texts(other.episodes)} - set(texts)
    assert build(other.episodes, "hashing", tmp_path)["computed"] == len(new)
    emb = CachedEmbedder("hashing", tmp_path)
    got = emb.embed(texts[:20])
    assert np.allclose(got, get_embedder("hashing").embed(texts[:20]), atol=1e-6)
    assert emb.hits == 20 and emb.misses == 0 and emb._model is None  # warm: no model built


def test_misses_are_computed_and_remembered(tmp_path):
    cache = EmbedCache(tmp_path, "hashing")
    cache.add(["alpha beta"], get_embedder("hashing").embed(["alpha beta"]))
    emb = CachedEmbedder("hashing", tmp_path)
    out = emb.embed(["alpha beta", "gamma delta", "gamma delta"])
    assert emb.hits == 1 and emb.misses == 1 and np.allclose(out[1], out[2])
    assert "gamma delta" not in EmbedCache(tmp_path, "hashing")  # the reader never writes
    assert "alpha beta" not in EmbedCache(tmp_path, "hashing-64")  # another model, another key


PROBE = '''
from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal


class Memory(MemoryProgram):
    """Reports the first coordinate of the query's embedding, to show where vectors come from."""

    def encode(self, event: Event) -> list:
        return [event.id]

    def store(self, records: list) -> None:
        self.ids = getattr(self, "ids", []) + records

    def retrieve(self, query: Query) -> Recall:
        v = self.kit.embed([query.text])[0]
        return Recall((RecallItem(f"{float(v[0]):.4f} {len(v)}", (self.ids[0],)),))

    def manage(self, signal: Signal) -> None:
        return None
'''


def _probe_texts(result) -> list[str]:
    # The probe's only item is usually not gold evidence, so it shows up in the failure sample.
    return [f["returned"][0]["text"] for f in result.failures]


def test_the_process_sandbox_reads_the_cache_from_the_job(tmp_path):
    """A planted cache (every vector e_0) proves the sandbox read it rather than computing."""
    tmp_path = tmp_path / "cache"  # created by the cache, readable by the sandbox's uid
    s = get_task("synthetic").build({}, "smoke", 0)
    texts = stream_texts(s.episodes)
    planted = np.zeros((len(texts), 256), dtype=np.float32)
    planted[:, 0] = 1.0
    EmbedCache(tmp_path, "hashing").add(texts, planted)
    job = Job(program=PROBE, task="synthetic", fidelity="smoke", embedder="hashing", embed_cache=str(tmp_path))
    result = ProcessSandbox().run(job)
    assert result.status == "ok", result.error
    seen = _probe_texts(result)
    assert seen and all(text == "1.0000 256" for text in seen)
    plain = ProcessSandbox().run(Job(program=PROBE, task="synthetic", fidelity="smoke", embedder="hashing"))
    assert plain.status == "ok", plain.error
    assert _probe_texts(plain) and all(text != "1.0000 256" for text in _probe_texts(plain))


def test_dense_seed_on_a_warm_cache_embeds_nothing_itself(tmp_path):
    from design_space.seeds import seed_source

    root = tmp_path / "cache"
    build(get_task("synthetic").build({}, "full", 0).episodes, "hashing", root)
    job = Job(program=seed_source("dense_rag"), task="synthetic", fidelity="full", embedder="hashing",
              embed_cache=str(root))
    warm = ProcessSandbox().run(job)
    assert warm.status == "ok", warm.error
    assert warm.metrics["embed_misses"] == 0 and warm.metrics["recall"] > 0.3
    cold = ProcessSandbox().run(Job(program=seed_source("dense_rag"), task="synthetic", fidelity="full",
                                    embedder="hashing"))
    assert cold.metrics["embed_misses"] > 100
    assert cold.metrics["recall"] == warm.metrics["recall"]  # same vectors, same ranking


def test_a_cache_path_the_sandbox_cannot_read_fails_loudly():
    import pytest

    with pytest.raises(FileNotFoundError, match="absolute path"):
        CachedEmbedder("hashing", "relative/cache")
