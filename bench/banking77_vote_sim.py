"""BANKING77 label-vote simulation on the search split: accuracy per (TOP_K, vote, lexical) setting, in numpy.

A train-only stand-in for the harness, to see where a compact exemplar memory's knobs should
lie before a campaign spends sandboxes on them (docs/EXPERIENCE.md, issue #14). It replays
the `search` split's stream (warm train examples, then the streamed fifth, each available
after its own query), ranks by mean-centred cosine of the cached MiniLM vectors (float32, no
quantisation), optionally mixes a tf-idf cosine as `blend_lexical` does, and predicts the
label `vote_labels` would recall. Agrees with the harness to about 0.002 (`c0057`: 0.9254 here,
0.9244 measured; `c0048`: 0.9284 here, 0.9299 measured). Never reads the test split. Needs the MiniLM cache (any `--embedder minilm`
run of banking77 builds it).

    python -m bench.banking77_vote_sim --fidelity full --grid '[{}, {"topk": 12, "vote_pool": 12, "power": 16}]'
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from design_space.components.encode.entities import tokens
from design_space.contract import Event, Query
from evolve.campaign_setup import default_cache_dir
from sandboxes.embed_cache import CachedEmbedder
from sandboxes.tasks import TaskError, get_task

DEFAULTS = dict(topk=7, minsim=0.137, lex_pool=0, lex_w=0.0, vote_pool=8, power=6.0)  # c0057's knobs


class Stream:
    def __init__(self, fidelity: str) -> None:
        steps = get_task("banking77").build({"split": "search"}, fidelity, 0).episodes[0].steps
        gold = {s.payload["query_id"]: s.payload["label"] for s in steps if getattr(s, "kind", "") == "feedback"}
        texts, self.labels, queries = [], [], []
        for s in steps:
            if isinstance(s, Event):
                texts.append(s.text)
                self.labels.append(s.meta["label"])
            elif isinstance(s, Query):
                queries.append((s.text, len(texts), gold[s.id]))
        emb = CachedEmbedder("minilm", str(default_cache_dir() / "embeddings"))
        m = emb.embed(texts).astype(np.float32)
        q = emb.embed([t for t, _a, _g in queries]).astype(np.float32)
        avail = np.array([a for _t, a, _g in queries])
        self.vectors, self.query_vectors, self.available = m, q, avail  # for bench/banking77_ceiling.py
        mean = m[: avail.min()].mean(0)  # the warm memory's mean: what a centred index holds at the first query

        def unit(x: np.ndarray) -> np.ndarray:
            return x / np.linalg.norm(x, axis=1, keepdims=True)

        self.sims = unit(q - mean) @ unit(m - mean).T
        self.sims[np.arange(len(m))[None, :] >= avail[:, None]] = -np.inf  # only what came before the query
        self.order = np.argsort(-self.sims, axis=1)[:, :100]
        self.gold = [g for _t, _a, g in queries]
        df = Counter(w for t in texts for w in set(tokens(t)))
        n = len(texts)

        def vec(words: list[str]) -> dict[str, float]:
            v = {w: (1 + math.log(c)) * (math.log((1 + n) / (1 + df.get(w, 0))) + 1) for w, c in Counter(words).items()}
            norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
            return {w: x / norm for w, x in v.items()}

        self.mem_vec = [vec(tokens(t)) for t in texts]
        self.query_vec = [vec(tokens(t)) for t, _a, _g in queries]

    def accuracy(self, topk: int, minsim: float, lex_pool: int, lex_w: float, vote_pool: int, power: float) -> float:
        right = 0
        for i, gold in enumerate(self.gold):
            cand = [(int(d), float(self.sims[i, d])) for d in self.order[i, : max(topk, lex_pool, vote_pool)]]
            hits = [(d, s) for d, s in cand[:topk] if s > minsim]
            if lex_pool and lex_w > 0:
                pool = dict(cand[: max(len(hits), lex_pool)])
                pool.update(dict(hits))
                q = self.query_vec[i]
                hits = sorted(((d, (1 - lex_w) * s + lex_w * sum(x * self.mem_vec[d].get(t, 0.0) for t, x in q.items()))
                               for d, s in pool.items()), key=lambda h: -h[1])[: len(hits)]
            voters = hits[:vote_pool]
            if len(voters) < vote_pool:  # vote_labels tops up from the index
                have = {d for d, _s in voters}
                voters += [(d, s) for d, s in cand[:vote_pool] if d not in have][: vote_pool - len(voters)]
            weight: dict[str, float] = {}
            for d, s in voters:
                weight[self.labels[d]] = weight.get(self.labels[d], 0.0) + max(s, 0.0) ** power
            first = {}
            for j, (d, _s) in enumerate(voters):
                first.setdefault(self.labels[d], j)
            right += max(weight, key=lambda lab: (weight[lab], -first[lab])) == gold
        return right / len(self.gold)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fidelity", default="full", choices=["smoke", "subset", "full"])
    ap.add_argument("--grid", default="[{}]", help="a JSON list of objects overriding " + ", ".join(DEFAULTS))
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "banking77_vote_sim.json"))
    args = ap.parse_args()
    try:
        grid = json.loads(args.grid)
    except json.JSONDecodeError as e:
        ap.error(f"--grid is not JSON: {e}")
    if not isinstance(grid, list) or not all(isinstance(g, dict) and set(g) <= set(DEFAULTS) for g in grid):
        ap.error(f"--grid: a JSON list of objects over {', '.join(DEFAULTS)}")
    stream = Stream(args.fidelity)
    rows = []
    print(f"banking77 search split ({args.fidelity}, {len(stream.gold)} queries)")
    print(" | ".join([*DEFAULTS, "accuracy"]))
    for g in grid:
        knobs = {**DEFAULTS, **g}
        rows.append({**knobs, "accuracy": round(stream.accuracy(**knobs), 4)})
        print(" | ".join(str(rows[-1][k]) for k in [*DEFAULTS, "accuracy"]), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(out.read_text()) if out.is_file() else {}
    old[args.fidelity] = rows
    out.write_text(json.dumps(old, indent=1))


if __name__ == "__main__":
    try:
        main()
    except TaskError as exc:  # missing data or a bad task parameter: one line, no stack
        sys.exit(f"banking77_vote_sim: {exc}")
