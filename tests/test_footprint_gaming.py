"""The footprint (``bytes`` / ``memory_kb``) cannot be lowered by hiding memories where it does not look.

Every program below remembers exactly what the honest one remembers (each event's id and text) and
answers the same, but keeps it somewhere else: a module global, a class attribute, a default
argument, a closure, an lru_cache, a function attribute, an object whose pickle hooks hide its
state, a dict subclass whose methods lie, a lambda (unpicklable for plain pickle: the old harness
reported "unknown", which ranked as the smallest footprint), the toolkit. Each must measure at least
what the honest program measures (or fail with a footprint error, or be refused by the validator).
The tests fail if any hiding place wins.
"""
from __future__ import annotations

import os
import textwrap

import pytest

from design_space.validate import validate_source
from sandboxes.backends.process import ProcessSandbox
from sandboxes.harness import replay
from sandboxes.job import Job, Limits
from sandboxes.tasks import get_task
from sandboxes.wire import write_episodes

TEMPLATE = '''
from __future__ import annotations

import functools

from design_space import Event, MemoryProgram, Query, Recall, RecallItem, Signal
from design_space.components.store.bm25_index import BM25Index

{module}


class Memory(MemoryProgram):
    def __init__(self, kit):
        super().__init__(kit)
{init}

    def encode(self, event: Event) -> list:
        return [(event.id, event.text)]

    def store(self, records: list) -> None:
        for r in records:
{put}

    def retrieve(self, query: Query) -> Recall:
        words = set(query.text.lower().split())
        hits = [(i, t) for i, t in {get} if words & set(t.lower().split())]
        return Recall(tuple(RecallItem(t, (i,), 1.0) for i, t in hits[:5]))

    def manage(self, signal: Signal) -> None:
        return None
'''


def program(module: str = "", init: str = "pass", put: str = "pass", get: str = "[]") -> str:
    return TEMPLATE.format(module=textwrap.dedent(module), init=textwrap.indent(textwrap.dedent(init), " " * 8),
                           put=textwrap.indent(textwrap.dedent(put), " " * 12), get=get)


HONEST = program(init="self.items = []", put="self.items.append(r)", get="self.items")

# Where a program could keep its memories instead of on itself; each must still be counted.
HIDDEN = {
    "module global": program(module="STORE = []", put="STORE.append(r)", get="STORE"),
    "class attribute": program(module="class Box:\n    items = []", put="Box.items.append(r)", get="Box.items"),
    "default argument": program(module="def shelf(items=[]):\n    return items", put="shelf().append(r)",
                                get="shelf()"),
    "closure": program(module="def _make():\n    items = []\n    return lambda: items\n\n\nSHELF = _make()",
                       put="SHELF().append(r)", get="SHELF()"),
    "lru_cache": program(module="@functools.lru_cache(maxsize=None)\ndef shelf(key):\n    return []",
                         put="shelf('m').append(r)", get="shelf('m')"),
    "bounded lru_cache": program(module="@functools.lru_cache(maxsize=4)\ndef shelf(key):\n    return []",
                                 put="shelf('m').append(r)", get="shelf('m')"),
    "function attribute": program(module="def shelf():\n    return shelf.items\n\n\nshelf.items = []",
                                  put="shelf().append(r)", get="shelf()"),
    "replaced padding": program(module="PAD = ['x' * 200000]",
                                put="if PAD and isinstance(PAD[0], str):\n    PAD.clear()\nPAD.append(r)",
                                get="PAD"),
    "__getstate__ says nothing": program(
        module="class Box:\n    def __init__(self):\n        self.items = []\n\n    def __getstate__(self):\n"
               "        return {}",
        init="self.box = Box()", put="self.box.items.append(r)", get="self.box.items"),
    "__reduce__ says nothing": program(
        module="class Box:\n    def __init__(self):\n        self.items = []\n\n    def __reduce__(self):\n"
               "        return (Box, ())",
        init="self.box = Box()", put="self.box.items.append(r)", get="self.box.items"),
    "dict subclass that lies": program(
        module="class Box(dict):\n    def __iter__(self):\n        return iter(())\n\n    def keys(self):\n"
               "        return []\n\n    def items(self):\n        return []\n\n    def __len__(self):\n"
               "        return 0\n\n    def __reduce_ex__(self, protocol):\n        return (Box, ())",
        init="self.box = Box()", put="dict.__setitem__(self.box, r[0], r[1])", get="dict.items(self.box)"),
    "lambda on self": program(init="self.items = []\nself.fn = lambda: self.items", put="self.fn().append(r)",
                              get="self.fn()"),
    "component subclass cache": program(
        module="class Index(BM25Index):\n    def keep(self, r):\n        if self._last is None:\n"
               "            self._last = ('', [])\n        self._last[1].append(r)\n\n    def kept(self):\n"
               "        return self._last[1] if self._last else []",
        init="self.index = Index()", put="self.index.keep(r)", get="self.index.kept()"),
    "design_space module global": program(
        module="from design_space.components.encode import facts", put="facts.PATTERNS.append(r)",
        get="[p for p in facts.PATTERNS if isinstance(p[0], str)]"),
    "design_space module global, imported inside a method": program(
        put="from design_space.components.encode import facts as f\nf.PATTERNS.append(r)",
        get="[p for p in fetch_facts().PATTERNS if isinstance(p[0], str)]",
        module="def fetch_facts():\n    from design_space.components.encode import facts\n    return facts"),
    # writing into self.kit is refused by the validator (below); through an alias it is not, and is counted
    "kit attribute": program(init="kit = self.kit\nkit.shelf = []", put="self.kit.shelf.append(r)",
                             get="self.kit.shelf"),
    "embedder attribute": program(init="emb = self.kit.embedder\nemb.shelf = []",
                                  put="self.kit.embedder.shelf.append(r)", get="self.kit.embedder.shelf"),
}

# Hiding places only the validator can close: another object's private state, and the state of
# third-party modules (not watched by the footprint).
REFUSED = {
    "kit attribute, written directly": program(init="self.kit.shelf = []", put="self.kit.shelf.append(r)",
                                               get="self.kit.shelf"),
    "kit counter": program(init="self.kit.hits = 0", put="self.kit.hits = self.kit.hits * 2 + 1",
                           get="[]"),
    "component cache": program(init="self.index = BM25Index()",
                               put="self.index._last = ('', (self.index._last or ('', []))[1] + [r])",
                               get="(self.index._last or ('', []))[1]"),
    "embedder's store of texts": program(put="self.kit.embed([r[0] + '\\x00' + r[1]])",
                                         get="[tuple(k.split('\\x00')) for k in self.kit.embedder._local]"),
    "private name spelled at run time": program(
        put="self.kit.embed([r[1]])", get="[(t, t) for t in getattr(self.kit.embedder, '_lo' + 'cal')]"),
    "private name as a literal": program(put="self.kit.embed([r[1]])",
                                         get="[(t, t) for t in getattr(self.kit.embedder, '_local')]"),
    "format-string attribute field": program(
        put="self.kit.embed([r[1]])", get="[(t, t) for t in '{0._local}'.format(self.kit.embedder).split(',')]"),
    "attrgetter": program(module="from operator import attrgetter", put="self.kit.embed([r[1]])",
                          get="[(t, t) for t in attrgetter('_local')(self.kit.embedder)]"),
    "state through __reduce_ex__": program(
        put="self.kit.embed([r[1]])", get="[(t, t) for t in self.kit.embedder.__reduce_ex__(4)[2]['_local']]"),
    "a library function's attribute": program(
        module="import statistics", init="statistics.mean.shelf = []", put="statistics.mean.shelf.append(r)",
        get="statistics.mean.shelf"),
    "setattr on an imported module": program(
        module="import statistics", init="setattr(statistics, 'shelf', [])", put="statistics.shelf.append(r)",
        get="statistics.shelf"),
    "getattr passed as a value": program(
        module="FETCH = getattr", put="self.kit.embed([r[1]])",
        get="[(t, t) for t in FETCH(self.kit.embedder, '_local')]"),
}


@pytest.fixture(autouse=True)
def _restore_design_space():
    """The programs run in this process: undo what one of them does to a design_space module."""
    from design_space.components.encode import facts

    kept = list(facts.PATTERNS)
    yield
    facts.PATTERNS[:] = kept


LIMITS = Limits(wall_seconds=60, cpu_seconds=30, memory_mb=1024)
SANDBOX = ProcessSandbox(bwrap=False)


@pytest.fixture(scope="module")
def stream_path(tmp_path_factory):
    stream = get_task("synthetic").build({}, "smoke", 0)
    path = str(tmp_path_factory.mktemp("stream") / "stream.jsonl")
    write_episodes(path, stream.episodes)
    return path


def run(source: str, stream_path: str, tmp_path) -> dict:
    workdir = tmp_path / f"w{len(os.listdir(tmp_path))}"
    workdir.mkdir()
    return replay(Job(program=source, task="synthetic", fidelity="smoke"), stream_path, str(workdir))


@pytest.fixture(scope="module")
def honest(stream_path, tmp_path_factory):
    out = run(HONEST, stream_path, tmp_path_factory.mktemp("honest"))
    assert out["status"] == "ok" and out["footprint"]["bytes"] > 2000
    return out


def test_every_gaming_program_is_valid_and_answers_like_the_honest_one(stream_path, honest, tmp_path):
    for name, source in HIDDEN.items():
        assert validate_source(source) == [], name
        out = run(source, stream_path, tmp_path)
        assert out["status"] == "ok", (name, out.get("error"))
        recalled = {q: v["items"] for q, v in out["queries"].items()}
        assert recalled == {q: v["items"] for q, v in honest["queries"].items()}, name  # it really used its store


@pytest.mark.parametrize("name", sorted(HIDDEN))
def test_hidden_memories_are_counted(name, stream_path, honest, tmp_path):
    out = run(HIDDEN[name], stream_path, tmp_path)
    assert out["status"] == "ok", out.get("error")
    assert out["footprint"]["bytes"] >= 0.9 * honest["footprint"]["bytes"], (
        f"{name}: {out['footprint']['bytes']} bytes against {honest['footprint']['bytes']} for the honest program")


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_reading_or_writing_private_state_is_refused(name):
    problems = validate_source(REFUSED[name])
    assert any(p.code in ("private-attr", "forbidden-attr") for p in problems), (name, problems)


def test_state_that_cannot_be_measured_fails_the_run_instead_of_ranking_as_small():
    """Plain pickle cannot measure a generator: the old harness reported an unknown footprint (-1),
    which a minimised objective ranked below every honest program."""
    source = program(init="self.items = []\nself.gen = (x for x in range(3))", put="self.items.append(r)",
                     get="self.items")
    assert validate_source(source) == []
    result = SANDBOX.run(Job(program=source, task="synthetic", fidelity="smoke", limits=LIMITS))
    assert result.status == "crashed"
    assert result.error.startswith("footprint:") and "generator" in result.error
    assert "bytes" not in result.metrics and "memory_kb" not in result.metrics


def test_an_honest_program_is_not_charged_for_what_it_does_not_hold(stream_path, honest, tmp_path):
    """Copying objects (copy caches __slotnames__ on classes) and reading module constants change nothing."""
    source = program(module="import copy\n\nLIMIT = {'n': 5}\nWORDS = ['a', 'b']",
                     init="self.items = []\nself.spare = copy.copy(self)",
                     put="self.items.append(r)\ncopy.copy(self.items)\nlen(WORDS) + LIMIT['n']", get="self.items")
    out = run(source, stream_path, tmp_path)
    assert out["status"] == "ok", out.get("error")
    assert out["footprint"]["bytes"] <= 1.1 * honest["footprint"]["bytes"] + 1024


@pytest.mark.parametrize("name", ["module global", "design_space module global, imported inside a method"])
def test_a_module_global_is_counted_inside_a_real_sandbox(name):
    """The same hiding places through a sandboxed run: its own fresh process, where a design_space
    module a stage method imports is not loaded yet when the program is, and the real scoring path."""
    plain = SANDBOX.run(Job(program=HONEST, task="synthetic", fidelity="smoke", limits=LIMITS))
    hidden = SANDBOX.run(Job(program=HIDDEN[name], task="synthetic", fidelity="smoke", limits=LIMITS))
    assert plain.status == hidden.status == "ok", (plain.error, hidden.error)
    assert plain.metrics["bytes"] > 2000
    assert hidden.metrics["bytes"] >= 0.9 * plain.metrics["bytes"]
    assert hidden.metrics["recall"] == plain.metrics["recall"]


@pytest.mark.parametrize("backend", ["process", "forkserver", "docker"])
def test_every_backend_measures_the_same_footprint(backend):
    """Whether a component may describe itself (its code is design_space's) is decided inside the
    sandbox, where the packages may sit at another path: the bytes must not depend on the backend."""
    from sandbox_fixtures import make_backend
    from design_space.seeds import seed_source

    sandbox = make_backend(backend)
    try:
        for source in (HONEST, seed_source("bm25_rag")):
            job = Job(program=source, task="synthetic", fidelity="smoke", limits=LIMITS)
            here, there = SANDBOX.run(job), sandbox.run(job)
            assert here.status == there.status == "ok", (here.error, there.error)
            assert there.metrics["bytes"] == here.metrics["bytes"]
    finally:
        close = getattr(sandbox, "close", None)
        if close:
            close()
