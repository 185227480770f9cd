"""The embedding cache reaches every Ray node through the object store, not a shared filesystem.

The driver packs the campaign embedder's cache directory once (`pack`) and puts it in Ray's
object store; each evaluation carries the reference *inside a list*, so Ray does not fetch it
for every task. On the worker (trusted side, before the sandbox starts), `localise` keeps the
driver's path when this node can read it, and otherwise unpacks the files once per node into
``<tmp>/memarch-embcache-<digest>`` (written to a scratch name and renamed, so concurrent
workers on a node never see half a cache) and points the job there.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sandboxes.embed_cache import embedder_dir
from sandboxes.job import Job


@dataclass(frozen=True)
class Packed:
    digest: str
    files: dict[str, bytes]  # path relative to the cache root -> content


def pack(root: str, embedder: str) -> Packed | None:
    """The files of `embedder`'s cache under `root`, or None when there is nothing to ship."""
    base = embedder_dir(root, embedder)
    if not base.is_dir():
        return None
    files: dict[str, bytes] = {}
    h = hashlib.blake2b(digest_size=12)
    for path in sorted(p for p in base.rglob("*") if p.is_file() and not p.name.startswith(".")):
        rel = str(path.relative_to(root))
        data = path.read_bytes()
        files[rel] = data
        h.update(rel.encode() + b"\0" + hashlib.blake2b(data, digest_size=16).digest())
    return Packed(h.hexdigest(), files) if files else None


def node_dir(digest: str) -> Path:
    return Path(tempfile.gettempdir()) / f"memarch-embcache-{digest}"


def readable_here(job: Job) -> bool:
    return bool(job.embed_cache) and embedder_dir(job.embed_cache, job.embedder or "hashing").is_dir()


def localise(job: Job, shipped: list[Any] | None) -> Job:
    """The job with an embedding cache this node can read (unpacked from `shipped` if needed)."""
    if not job.embed_cache or not shipped or readable_here(job):
        return job
    ref, digest = shipped
    target = node_dir(digest)
    if not target.is_dir():
        import ray

        packed: Packed = ray.get(ref)
        scratch = Path(tempfile.mkdtemp(prefix=f".memarch-embcache-{digest}-"))
        for rel, data in packed.files.items():
            dest = scratch / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        for d in [scratch, *(p for p in scratch.rglob("*") if p.is_dir())]:
            os.chmod(d, 0o755)  # the sandbox's uid reads it
        for f in (p for p in scratch.rglob("*") if p.is_file()):
            os.chmod(f, 0o644)
        try:
            os.rename(scratch, target)
        except OSError:  # another worker on this node got there first
            shutil.rmtree(scratch, ignore_errors=True)
    return replace(job, embed_cache=str(target))
