"""The component catalogue: what a pipeline program can be assembled from, stage by stage.

A *pipeline* program is an ordinary memory program whose methods call a short, explicit
sequence of components, one line each, with module-level knobs per component:

    def retrieve(self, query):
        text = query.text
        text = expand_prf(text, query, self.turns, self.index, terms=int(PRF_TERMS), docs=int(PRF_DOCS))
        hits = self.index.search(text, max(1, int(TOP_K)))
        hits = requery(hits, text, query, self.turns, self.index, breadth=int(HOP_BREADTH), ...)
        return pack(self.turns.items(hits), query.budget_tokens, self.kit.count_tokens)

Each entry declares its stage, its slot (which variable it reads and writes: the interface),
where it is imported from, and its knobs (constant name, type, range, default). Structural
operators insert, replace and remove these lines; `compose` builds programs from them. The
program stays one plain module, so validation, export and `memarch show` read it unchanged.

Slots and their interfaces (the call line each slot uses):
- encode `text`  (Text -> Text):   ``text = f(text, event, self.turns, ...)``
- store  `index` (Texts -> Index): ``self.index = Cls(...)`` with add / remove / search
- retrieve `query` (Query -> Query): ``text = f(text, query, self.turns, self.index, ...)``
- retrieve `hits` (Hits -> Hits):  ``hits = f(hits, text, query, self.turns, self.index, ...)``
- manage `turns` (Turns -> Turns): ``f(signal, self.turns, self.index, ...)``
Hits are (turn number, score) pairs, best first; turn numbers index `self.turns` and the index.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

STAGES = ("encode", "store", "retrieve", "manage")
SLOTS = {  # slot -> (stage, interface, assigned variable, positional arguments before the knobs)
    "text": ("encode", "Text -> Text", "text", "text, event, self.turns"),
    "index": ("store", "Texts -> Index", "self.index", ""),
    "query": ("retrieve", "Query -> Query", "text", "text, query, self.turns, self.index"),
    "hits": ("retrieve", "Hits -> Hits", "hits", "hits, text, query, self.turns, self.index"),
    "turns": ("manage", "Turns -> Turns", "", "signal, self.turns, self.index"),
}


@dataclass(frozen=True)
class KnobSpec:
    name: str  # the module constant, e.g. PRF_TERMS
    arg: str  # the keyword argument it feeds
    kind: str  # "int" | "float" | "bool"
    low: float = 0.0
    high: float = 1.0
    default: Any = None
    log: bool = False

    def cast(self) -> str:
        return f"{self.kind}({self.name})" if self.kind != "bool" else f"bool({self.name})"


@dataclass(frozen=True)
class Component:
    name: str
    slot: str
    module: str
    function: str  # the callable (a class for the index slot)
    doc: str
    knobs: tuple[KnobSpec, ...] = ()
    extra: tuple[str, ...] = ()  # extra positional arguments after the slot's own (e.g. self.kit.embed)
    text_only: bool = False  # index slot: searches need text (no vectors)
    params: dict[str, KnobSpec] = field(default_factory=dict)  # index slot: constructor parameter -> knob
    index_uses: tuple[str, ...] = ("search",)  # what the step calls on the index it is given (always by text)
    labelled: bool = False  # works on the feedback labels of an experience stream (offered on those tasks alone)

    @property
    def stage(self) -> str:
        return SLOTS[self.slot][0]

    @property
    def interface(self) -> str:
        return SLOTS[self.slot][1]

    def load(self) -> Any:
        return getattr(importlib.import_module(self.module), self.function)

    def import_line(self) -> str:
        return f"from {self.module} import {self.function}"

    def call_line(self) -> str:
        """The one line that runs this component in its slot (without indentation)."""
        _stage, _iface, var, positional = SLOTS[self.slot]
        args = [a for a in (positional,) if a] + list(self.extra) + [f"{k.arg}={k.cast()}" for k in self.knobs]
        call = f"{self.function}({', '.join(args)})"
        return f"{var} = {call}" if var else call


def knob_text(spec: KnobSpec) -> str:
    v = spec.default
    return repr(bool(v)) if spec.kind == "bool" else repr(int(v)) if spec.kind == "int" else repr(float(v))


def _k(name: str, arg: str, kind: str, low: float, high: float, default: Any, log: bool = False) -> KnobSpec:
    return KnobSpec(name, arg, kind, low, high, default, log)


_R = "design_space.components.retrieve."
_E = "design_space.components.encode."
_S = "design_space.components.store."
_M = "design_space.components.manage."

COMPONENTS: dict[str, Component] = {c.name: c for c in [
    # store: the index every turn goes into (swapped by `swap_index`, chosen by `compose`)
    Component("bm25", "index", _S + "bm25_index", "BM25Index",
              "Okapi BM25 over content words, optionally their Porter stems", text_only=True,
              params={"k1": _k("INDEX_K1", "k1", "float", 0.3, 3.0, 1.2), "b": _k("INDEX_B", "b", "float", 0.0, 1.0, 0.75),
                      "stem": _k("INDEX_STEM", "stem", "bool", 0, 1, False)}),
    Component("dense", "index", _S + "dense_index", "DenseIndex", "cosine similarity of the kit's embeddings"),
    Component("compact_dense", "index", _S + "compact_dense_index", "CompactDenseIndex",
              "cosine over quantised vectors (int8 codes + row scale at 8 bits, float16 at 16, float32 above), "
              "packed, removals freed; optionally mean-centred cosine",
              params={"bits": _k("INDEX_BITS", "bits", "int", 8, 32, 8), "centre": _k("INDEX_CENTRE", "centre", "bool", 0, 1, False)}),
    Component("hybrid", "index", _S + "hybrid_index", "HybridIndex", "BM25 and dense fused by reciprocal rank",
              text_only=True, params={
                  "k1": _k("INDEX_K1", "k1", "float", 0.3, 3.0, 1.2), "b": _k("INDEX_B", "b", "float", 0.0, 1.0, 0.75),
                  "rrf_k": _k("INDEX_RRF_K", "rrf_k", "float", 5.0, 200.0, 60.0, True),
                  "sparse_weight": _k("INDEX_SPARSE_WEIGHT", "sparse_weight", "float", 0.1, 3.0, 1.0, True),
                  "dense_weight": _k("INDEX_DENSE_WEIGHT", "dense_weight", "float", 0.1, 3.0, 1.0, True),
                  "stem": _k("INDEX_STEM", "stem", "bool", 0, 1, False)}),
    # encode: what text of a turn is indexed
    Component("context", "text", _E + "context", "with_context",
              "prefix each turn with the turns before it in its session (granularity: turn -> turn+context)",
              (_k("CONTEXT_TURNS", "turns", "int", 1, 4, 1),)),
    Component("dated", "text", _E + "context", "with_date", "prefix each turn with its date (temporal questions)"),
    # retrieve, query side
    Component("prf", "query", _R + "prf", "expand_prf",
              "pseudo-relevance feedback: add the top hits' most distinctive words to the query (RM3-style)",
              (_k("PRF_DOCS", "docs", "int", 1, 10, 3), _k("PRF_TERMS", "terms", "int", 1, 20, 5))),
    Component("keywords", "query", _R + "prf", "keywords_only", "search with the question's names and content words only"),
    # retrieve, hit side
    Component("multihop", "hits", _R + "multihop", "requery",
              "iterative retrieval: re-query with what the first pass found, merge the second pass",
              (_k("HOP_BREADTH", "breadth", "int", 1, 6, 2), _k("HOP_DEPTH", "depth", "int", 2, 30, 8, True),
               _k("HOP_WEIGHT", "weight", "float", 0.1, 1.0, 0.6))),
    Component("windows", "hits", _R + "windows", "match_windows",
              "sentence-window matching: match each turn with the turns around it in its session, show the turn alone",
              (_k("WINDOW_BEFORE", "before", "int", 0, 4, 2), _k("WINDOW_AFTER", "after", "int", 0, 3, 1),
               _k("WINDOW_POOL", "pool", "int", 10, 100, 30, True), _k("WINDOW_WEIGHT", "weight", "float", 0.0, 4.0, 2.0)),
              index_uses=()),
    Component("temporal", "hits", _R + "temporal", "boost_dates",
              "time-aware: favour turns whose date (or dates they mention) matches the question's",
              (_k("TIME_POOL", "pool", "int", 10, 100, 30, True), _k("TIME_WEIGHT", "weight", "float", 0.0, 2.0, 0.5),
               _k("TIME_WINDOW_DAYS", "window_days", "float", 1.0, 90.0, 14.0, True))),
    Component("entities", "hits", _R + "entity_boost", "boost_entities",
              "speaker/entity boosting: favour turns by or about the people the question names",
              (_k("ENTITY_POOL", "pool", "int", 10, 100, 30, True), _k("ENTITY_WEIGHT", "weight", "float", 0.0, 2.0, 0.3))),
    Component("roles", "hits", _R + "roles", "boost_roles",
              "role-aware: favour turns of the party the question is about (the asker for 'I'/'my', the one asked for 'you said')",
              (_k("ROLE_POOL", "pool", "int", 10, 100, 30, True), _k("ROLE_WEIGHT", "weight", "float", 0.0, 2.0, 0.3))),
    Component("recency", "hits", _R + "recency", "boost_recent",
              "recency-aware: among matching turns favour the latest (a newer statement overrides an older one)",
              (_k("RECENCY_POOL", "pool", "int", 5, 100, 30, True), _k("RECENCY_WEIGHT", "weight", "float", 0.0, 2.0, 0.3))),
    Component("chain", "hits", _R + "chain", "follow_latest",
              "chained state: re-query with the names a top hit adds, favour the latest turn found (object -> holder -> where)",
              (_k("CHAIN_BREADTH", "breadth", "int", 1, 4, 1), _k("CHAIN_DEPTH", "depth", "int", 5, 100, 30, True),
               _k("CHAIN_WEIGHT", "weight", "float", 0.0, 2.0, 0.8))),
    Component("sessions", "hits", _R + "hierarchical", "sessions_first",
              "hierarchical: rank whole sessions first, then favour turns of the best sessions",
              (_k("SESSION_TOP", "top", "int", 1, 6, 2), _k("SESSION_POOL", "pool", "int", 10, 100, 30, True),
               _k("SESSION_WEIGHT", "weight", "float", 0.0, 2.0, 0.5))),
    Component("fuse_dense", "hits", _R + "fuse", "fuse_dense",
              "score fusion: reciprocal-rank fuse the hits with a dense ranking of the turns",
              (_k("FUSE_DEPTH", "depth", "int", 5, 60, 20, True), _k("FUSE_WEIGHT", "weight", "float", 0.1, 3.0, 1.0, True)),
              extra=("self.kit.embed",)),
    Component("fuse_bm25", "hits", _R + "fuse", "fuse_bm25",
              "score fusion: reciprocal-rank fuse the hits with a BM25 ranking of the turns",
              (_k("FUSE_BM25_DEPTH", "depth", "int", 5, 60, 20, True),
               _k("FUSE_BM25_WEIGHT", "weight", "float", 0.1, 3.0, 1.0, True))),
    Component("rerank", "hits", _R + "rerank", "rerank_coverage",
              "rerank a deeper pool by how many of the question's words (and word pairs) a turn covers",
              (_k("RERANK_POOL", "pool", "int", 10, 100, 30, True), _k("RERANK_WEIGHT", "weight", "float", 0.0, 2.0, 0.5))),
    Component("lexical", "hits", _R + "lexical", "blend_lexical",
              "sparse-dense score mixing: blend each hit's score with its tf-idf cosine to the query over a deeper pool",
              (_k("LEXICAL_POOL", "pool", "int", 5, 100, 30, True), _k("LEXICAL_WEIGHT", "weight", "float", 0.0, 1.0, 0.25))),
    Component("label_vote", "hits", _R + "label_vote", "vote_labels",
              "k-NN vote with distance weighting: recall only the examples of the label the nearest turns vote for",
              (_k("VOTE_POOL", "pool", "int", 3, 60, 8, True), _k("VOTE_POWER", "power", "float", 0.0, 24.0, 6.0)),
              labelled=True),
    Component("label_model", "hits", _R + "label_model", "vote_with_model",
              "k-NN vote mixed with a softmax-regression label model fitted on the stored examples' vectors",
              (_k("MODEL_POOL", "pool", "int", 3, 60, 8, True), _k("MODEL_POWER", "power", "float", 0.0, 24.0, 6.0),
               _k("MODEL_WEIGHT", "weight", "float", 0.0, 3.0, 1.0), _k("MODEL_STEPS", "steps", "int", 50, 400, 200, True)),
              index_uses=("search", "vectors", "embed_query"), labelled=True),
    Component("share", "hits", _R + "packing", "share_budget",
              "spend a share of the token budget: keep the best hits whose turns fit in it (finer than TOP_K)",
              (_k("TOKEN_SHARE", "share", "float", 0.5, 1.0, 0.9),), extra=("self.kit.count_tokens",), index_uses=()),
    Component("neighbours", "hits", _R + "expansion", "with_neighbours",
              "add the turns around each hit (same session) after the hits",
              (_k("NEIGHBOUR_RADIUS", "radius", "int", 0, 3, 1),), index_uses=()),
    # manage
    Component("dedupe", "turns", _M + "repeats", "drop_repeats",
              "at the end of a session, drop turns whose content words repeat an earlier turn's",
              (_k("DEDUPE_OVERLAP", "overlap", "float", 0.5, 1.0, 0.9),), index_uses=("remove",)),
    Component("condense", "turns", _M + "condense", "condense",
              "condensed exemplar memory: remove labelled turns whose k nearest stored turns already share their label",
              (_k("CONDENSE_K", "k", "int", 1, 15, 5), _k("CONDENSE_MARGIN", "margin", "float", 0.5, 1.0, 1.0)),
              index_uses=("remove", "vectors"), labelled=True),
]}

INDEXES = {c.function: c for c in COMPONENTS.values() if c.slot == "index"}
QUERY_FUNCTIONS = frozenset(c.function for c in COMPONENTS.values() if c.slot == "query")
BY_FUNCTION = {c.function: c for c in COMPONENTS.values()}


def slot_components(slot: str) -> list[Component]:
    return [c for c in COMPONENTS.values() if c.slot == slot]
