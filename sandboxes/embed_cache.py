"""A content-addressed cache of text embeddings, built on the trusted side, read in sandboxes.

Embedding every event and query text of a task does not depend on the program, so a
campaign computes it once (`build`) and every sandbox looks vectors up (`CachedEmbedder`)
instead of loading a model. Keys are a hash of the embedder name and the text, so a cache
is shared by tasks, fidelities and campaigns and never serves a vector of another model.

Layout: ``<root>/<embedder>/meta.json`` ({"embedder", "dim"}) and shards written once,
atomically: ``<shard>.vecs.npy`` (float32, n x dim) then ``<shard>.keys.npy`` (the hex
keys, written last so a reader never sees a half shard). Readers memory-map the vectors.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from design_space.contract import Event, Query


def text_key(embedder: str, text: str) -> str:
    return hashlib.blake2b(f"{embedder}\x00{text}".encode(), digest_size=16).hexdigest()


def embedder_dir(root: str | os.PathLike, embedder: str) -> Path:
    return Path(root) / re.sub(r"[^A-Za-z0-9_.-]", "_", embedder)


class EmbedCache:
    """The vectors of one embedder under `root`: lookup by text, append by shard."""

    def __init__(self, root: str | os.PathLike, embedder: str) -> None:
        self.embedder = embedder
        self.dir = embedder_dir(root, embedder)
        self.dim = 0
        self._index: dict[str, tuple[int, int]] = {}
        self._shards: list[np.ndarray] = []
        self._seen: set[str] = set()
        self.reload()

    def reload(self) -> None:
        meta = self.dir / "meta.json"
        if meta.is_file():
            self.dim = int(json.loads(meta.read_text())["dim"])
        for keys_path in sorted(self.dir.glob("*.keys.npy")):
            shard = keys_path.name[: -len(".keys.npy")]
            if shard in self._seen:
                continue
            keys = np.load(keys_path)
            vecs = np.load(self.dir / f"{shard}.vecs.npy", mmap_mode="r")
            n = len(self._shards)
            self._shards.append(vecs)
            self._seen.add(shard)
            for row, key in enumerate(keys.tolist()):
                self._index.setdefault(key.decode() if isinstance(key, bytes) else key, (n, row))

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, text: str) -> bool:
        return text_key(self.embedder, text) in self._index

    def get(self, texts: Sequence[str]) -> tuple[np.ndarray, list[int]]:
        """Vectors for `texts` (zeros where missing) and the positions that missed."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        missing: list[int] = []
        for i, text in enumerate(texts):
            hit = self._index.get(text_key(self.embedder, text))
            if hit is None:
                missing.append(i)
            else:
                out[i] = self._shards[hit[0]][hit[1]]
        return out, missing

    def add(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Write one new shard (texts already cached are skipped)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        keys, rows, fresh = [], [], set()
        for i, text in enumerate(texts):
            k = text_key(self.embedder, text)
            if k not in self._index and k not in fresh:
                fresh.add(k)
                keys.append(k)
                rows.append(i)
        if not keys:
            return
        _readable_dirs(self.dir)
        if not self.dim:
            self.dim = int(vectors.shape[1])
            _atomic(self.dir / "meta.json", json.dumps({"embedder": self.embedder, "dim": self.dim}).encode())
        elif vectors.shape[1] != self.dim:
            raise ValueError(f"embed cache {self.dir}: vectors are {vectors.shape[1]}-d, cache holds {self.dim}-d")
        shard = hashlib.blake2b("".join(keys).encode(), digest_size=8).hexdigest()
        _save_npy(self.dir / f"{shard}.vecs.npy", np.ascontiguousarray(vectors[rows]))
        _save_npy(self.dir / f"{shard}.keys.npy", np.array(keys, dtype="S32"))
        self.reload()


def _readable_dirs(directory: Path) -> None:
    """Create the cache dirs readable by all: sandboxes read them under an unprivileged uid."""
    missing = []
    d = directory
    while not d.exists():
        missing.append(d)
        d = d.parent
    for d in reversed(missing):
        d.mkdir(exist_ok=True)
        os.chmod(d, 0o755)


def _atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _save_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, array)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


# The forms in which programs embed an event: its text, and the annotated forms that
# design_space.components.encode.annotate makes (the seeds' default is "speaker").
VARIANTS = ("text", "speaker", "speaker_date")


def stream_texts(episodes: Iterable[Any], variants: Sequence[str] = VARIANTS) -> list[str]:
    """Every distinct query text and event text (in each variant) of a stream, first-seen order."""
    from design_space.components.encode.annotate import annotate

    unknown = set(variants) - set(VARIANTS)
    if unknown:
        raise ValueError(f"unknown text variant {sorted(unknown)[0]!r} (known: {', '.join(VARIANTS)})")
    seen: dict[str, None] = {}
    for ep in episodes:
        for step in ep.steps:
            if isinstance(step, Query):
                seen.setdefault(step.text, None)
            elif isinstance(step, Event):
                if "text" in variants:
                    seen.setdefault(step.text, None)
                if "speaker" in variants:
                    seen.setdefault(annotate(step, speaker=True), None)
                if "speaker_date" in variants:
                    seen.setdefault(annotate(step, speaker=True, date=True), None)
    return list(seen)


def stream_variants(stream: Any) -> Sequence[str]:
    """The text variants worth embedding for a stream: an experience stream's events have no
    speaker and their time is a stream position, not a date, so only their own text (embedding
    dated copies would double a BANKING77 cache build for texts no sensible program reads)."""
    from sandboxes.tasks.experience import ExperienceStream

    return ("text",) if isinstance(stream, ExperienceStream) else VARIANTS


def build(episodes: Iterable[Any], embedder: str, root: str | os.PathLike, batch: int = 4096,
          variants: Sequence[str] = VARIANTS) -> dict[str, float]:
    """Embed what the cache lacks of a stream's texts. Returns counts and seconds."""
    from design_space.embedders import get_embedder

    t0 = time.perf_counter()
    cache = EmbedCache(root, embedder)
    texts = stream_texts(episodes, variants)
    todo = [t for t in texts if t not in cache]
    model = get_embedder(embedder) if todo else None
    for i in range(0, len(todo), batch):
        chunk = todo[i:i + batch]
        cache.add(chunk, model.embed(chunk))  # type: ignore[union-attr]
    return {"texts": float(len(texts)), "computed": float(len(todo)), "seconds": time.perf_counter() - t0}


class CachedEmbedder:
    """The Kit's embedder inside a sandbox: cached vectors first, the model only for misses.

    The model is built on the first miss, so a fully warm cache never loads it. Misses are
    kept in memory for the life of the process (the sandbox cannot write to the cache)."""

    def __init__(self, embedder: str, root: str | os.PathLike | None) -> None:
        self.name = embedder
        if root and not os.path.isdir(root):
            # A relative or unmounted path: fail loudly rather than quietly embed everything here.
            raise FileNotFoundError(f"embedding cache {root!r} is not readable in the sandbox (give an absolute path)")
        self.cache = EmbedCache(root, embedder) if root else None
        self._model: Any = None
        self._local: dict[str, np.ndarray] = {}
        self.hits = 0
        self.misses = 0
        self.dim = self.cache.dim if self.cache and self.cache.dim else 0
        if not self.dim:
            self.dim = int(self._inner().dim)

    def _inner(self) -> Any:
        if self._model is None:
            from design_space.embedders import get_embedder

            self._model = get_embedder(self.name)
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if self.cache is not None:
            out, missing = self.cache.get(texts)
        else:
            out, missing = np.zeros((len(texts), self.dim), dtype=np.float32), list(range(len(texts)))
        todo: dict[str, None] = {}
        for i in missing:
            if texts[i] not in self._local:
                todo.setdefault(texts[i], None)
        if todo:
            vecs = np.asarray(self._inner().embed(list(todo)), dtype=np.float32)
            self._local.update(zip(todo, vecs))
        for i in missing:
            out[i] = self._local[texts[i]]
        self.misses += len(todo)
        self.hits += len(texts) - len(missing)
        return out


def embedder_for_job(embedder: str, cache_dir: str) -> CachedEmbedder | None:
    """The shared embedder a harness hands every Kit, or None for the Kit's own default."""
    if not embedder and not cache_dir:
        return None
    return CachedEmbedder(embedder or "hashing", cache_dir or None)
