"""compose: structure and knobs searched together, with one Optuna study over the catalogue.

Each trial is asked define-by-run: which index, then for every catalogue component whether
the program uses it (`use:prf`, ...), then — only for the components in use — their knobs,
named by their module constants (`PRF_TERMS`, `TIME_WEIGHT`), plus `TOP_K`. The study is
one for all structures, so what a knob taught in one structure informs every structure that
has the component: sharing is by (component, knob). TPE's grouped multivariate mode models
the conditional space (Optuna's define-by-run).

With `screen: true` the study opens with a screen: one trial per catalogue choice away
from the skeleton — each offered component alone, at its default knobs, then each other index —
in an order fixed by the campaign seed. TPE's own start-up samples every `use:` flag at 50 %, so
its first trials hold ten steps each and no contrast says which step paid; the screen gives every
component one clean comparison with the skeleton (whose own result the study learns as a seed),
and the model starts from those. A resumed campaign skips what its history already screened.
The screen goes on in rounds (`screen_rounds`, default 2: forward selection): once every trial of
a round has a result, the round's best program with one more step, by the quality objective (fewer
tokens break a tie), becomes the base of the next round — that program plus each component it lacks,
one trial each — provided it beats the round's base (its own screen trial, not the base's structure
with other knobs: a `tune` child of the base is a free trial of the study); otherwise the screen
ends. Index swaps are screened in the first round only and are never a base: on bAbI the dense
index matches the dense seed (0.838 at 21 tokens) and would outrank `recency` (0.829 at 17), the
step `chain` builds on.
One round finds the step that pays alone; the next finds what pays beside it (on bAbI after
`recency`, only `chain` adds: a step whose gain one round cannot show). While a round's last
trials run, the model's own trials go on.
With `screen_prune: true` the rounds after the first offer only the steps that beat the skeleton
alone in round 1, so more rounds fit in a campaign (on LoCoMo, judged on the whole search split: 8 of
22 steps, and five rounds in 44 step trials reach windows → temporal → neighbours → entities at default knobs, 0.650
held-out; docs/BENCHMARKS.md). A resumed screen finds the same steps again from the study's trials.
Pruned, with `screen_rounds: 5`, it pays where the campaign's trials are judged on the whole search
split (a last stage `full`, the default cascade): on LoCoMo its front held 0.65 held-out within 256
tokens in 5 of 6 repeats. Judged on a 200-question subset, the extra rounds pick steps that only
the subset favours (`fuse_dense`), so it stays off by default.
When the rounds are over (the last one ran, or one's best did not beat its base), the screen's best
program — the last round's best when it beat its base, else that base — gets `screen_knobs` trials
(default 8) with its index and steps fixed and every knob (`TOP_K` included) asked of the model, which
has learned them by (component, knob) from every trial so far: the screen measures each step at its
defaults only, and on bAbI `recency` + `chain` at its defaults spends 18.8 tokens where the dense seed
spends 21.3, so how far it goes depends on its knobs (`TOP_K`, `CHAIN_DEPTH`).
By default (`screen: auto`) the screen runs when the campaign may evaluate at least
`SCREEN_MIN_EVALUATIONS` candidates: there the screen's one trial per choice is a small share of the
study, and a step that pays alone (LoCoMo's `windows`) is tried at once in every campaign; in a
short campaign (the quickstart's 40) it would spend most of compose's trials on one-step programs
(docs/BENCHMARKS.md, the screen).

The child is built from a pipeline skeleton — the parent when it is a pipeline, else the
bm25_rag seed — by removing its catalogue lines and inserting the chosen ones in catalogue
order (the order within a slot is not searched here; `structural` edits move it). Any
pipeline candidate another operator made is a free trial (`learn`), and a resumed campaign
gets its study back from the history (`restore`).
"""
from __future__ import annotations

import logging
import warnings
from typing import Any

from design_space.catalogue import COMPONENTS, INDEXES, Component, KnobSpec, knob_text
from design_space.seeds import seed_source
from design_space.validate import validate_source
from evolve.operators.base import OperatorContext, OperatorError, Proposal
from evolve.operators.knobs import read_knobs
from evolve.operators.pipeline_edits import index_line, insert_at, present, remove_at, slots
from evolve.operators.source_edits import add_import, drop_unused_imports, drop_unused_knobs, insert_knobs, \
    module_constants, set_knob_values

TOP_K = KnobSpec("TOP_K", "k", "int", 2, 40, 10, True)
SKELETON = "bm25_rag"
SCREEN_MIN_EVALUATIONS = 100  # `screen: auto` screens in campaigns that may evaluate this many candidates
SCREEN_ROUNDS = 2  # forward selection: the step that pays alone, then what pays beside it
SCREEN_KNOBS = 8  # trials of the screen's best structure, its knobs from the model


def _index_call(comp: Component) -> str:
    args = ["self.kit.embed"] if comp.function != "BM25Index" else []
    args += [f"{p}={spec.name}" for p, spec in comp.params.items()]
    return f"{comp.function}({', '.join(args)})"


def _distribution(spec: KnobSpec) -> Any:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if spec.kind == "bool":
        return CategoricalDistribution([False, True])
    if spec.kind == "int":
        return IntDistribution(int(spec.low), int(spec.high), log=spec.log and spec.low > 0)
    return FloatDistribution(float(spec.low), float(spec.high), log=spec.log and spec.low > 0)


def _suggest(trial: Any, spec: KnobSpec) -> Any:
    if spec.kind == "bool":
        return trial.suggest_categorical(spec.name, [False, True])
    if spec.kind == "int":
        return trial.suggest_int(spec.name, int(spec.low), int(spec.high), log=spec.log and spec.low > 0)
    return round(trial.suggest_float(spec.name, float(spec.low), float(spec.high), log=spec.log and spec.low > 0), 4)


def _choosable() -> list[Component]:
    return [c for c in COMPONENTS.values() if c.slot != "index"]


def structure_of(code: str) -> dict[str, Any] | None:
    """The trial parameters a pipeline program corresponds to (None when it is not a pipeline
    or a knob lies outside the catalogue's range)."""
    shape = present(code)
    if "index" not in shape or not shape["index"]:
        return None
    values = {k.name: k.value for k in read_knobs(code)}
    index = COMPONENTS[shape["index"][0]]
    used = {name for slot, names in shape.items() if slot != "index" for name in names}
    params: dict[str, Any] = {"index": index.name}
    for comp in _choosable():
        params[f"use:{comp.name}"] = comp.name in used
    specs = [s for s in index.params.values()] + [k for c in _choosable() if c.name in used for k in c.knobs]
    if "TOP_K" in values:
        specs.append(TOP_K)
    values.update({spec.name: v for spec, v in _index_args(code, index).items() if spec.name not in values})
    for spec in specs:
        v = values.get(spec.name)
        if v is None or isinstance(v, str) or not spec.low <= v <= spec.high:
            return None
        if spec.kind == "int" and (isinstance(v, float) or isinstance(v, bool)):
            return None
        params[spec.name] = v
    return params


def _index_args(code: str, index: Component) -> dict[KnobSpec, Any]:
    """The index's knob values as its constructor receives them (`BM25Index(K1, B)` gives k1 = K1's value)."""
    import ast
    import inspect

    found = index_line(code)
    tree = ast.parse(code)
    consts = {k.name: k.value for k in read_knobs(code)}
    call = next(n.value for n in ast.walk(tree) if isinstance(n, ast.Assign) and n.lineno == found[0])
    names = [p for p in inspect.signature(index.load().__init__).parameters if p != "self"]
    given = dict(zip(names, call.args)) | {kw.arg: kw.value for kw in call.keywords if kw.arg}
    out = {}
    for param, spec in index.params.items():
        node = given.get(param)
        if isinstance(node, ast.Name) and node.id in consts:
            out[spec] = consts[node.id]
        elif isinstance(node, ast.Constant):
            out[spec] = node.value
        elif node is None:
            out[spec] = spec.default
    return out


def distributions(params: dict[str, Any]) -> dict[str, Any]:
    from optuna.distributions import CategoricalDistribution

    out: dict[str, Any] = {"index": CategoricalDistribution(sorted(c.name for c in INDEXES.values()))}
    specs = {k.name: k for c in COMPONENTS.values() for k in list(c.knobs) + list(c.params.values())}
    specs["TOP_K"] = TOP_K
    for name in params:
        if name.startswith("use:"):
            out[name] = CategoricalDistribution([False, True])
        elif name in specs:
            out[name] = _distribution(specs[name])
    return out


def build(skeleton: str, index: str, used: list[str], knobs: dict[str, Any]) -> str:
    """The skeleton with the given index, components (catalogue order within each slot) and knobs."""
    code = skeleton
    for slot in ("text", "query", "hits", "turns"):
        while slot in slots(code) and slots(code)[slot].calls:
            code = remove_at(code, slot, 0)
    found = index_line(code)
    if found is None:
        raise OperatorError("the skeleton has no `self.index = ...` line")
    line_no, old_cls = found
    comp = COMPONENTS[index]
    lines = code.splitlines(keepends=True)
    line = lines[line_no - 1]
    head = line[:line.index("=") + 1]
    old_names = set(module_constants(code))
    lines[line_no - 1] = f"{head} {_index_call(comp)}\n"
    code = "".join(lines)
    code = insert_knobs(code, {s.name: knob_text(s) for s in comp.params.values()})
    code = add_import(code, comp.import_line())
    code = drop_unused_imports(code, {old_cls} - {comp.function})
    have = slots(code)
    for name in used:
        c = COMPONENTS[name]
        if c.slot in have:
            code = insert_at(code, c.slot, c, len(slots(code)[c.slot].calls))
    code = drop_unused_knobs(code, old_names - {"TOP_K"})
    consts = module_constants(code)
    return set_knob_values(code, {n: knob_text(KnobSpec(n, "", "bool" if isinstance(v, bool) else
                                                        "int" if isinstance(v, int) else "float", default=v))
                                  for n, v in knobs.items() if n in consts})


def ask(trial: Any, skeleton: str, labelled: bool = False) -> tuple[str, list[str], dict[str, Any]]:
    """One point of the space, asked of an Optuna trial define-by-run: the index, the components
    used (only those with a slot in `skeleton`; label steps only when `labelled`) and the knobs of
    what is used, with `TOP_K` when the skeleton has it. `build` turns it into a program."""
    index = trial.suggest_categorical("index", sorted(c.name for c in INDEXES.values()))
    knobs: dict[str, Any] = {spec.name: _suggest(trial, spec) for spec in COMPONENTS[index].params.values()}
    used = []
    have = slots(skeleton)
    for comp in _choosable():
        if comp.labelled and not labelled:
            continue
        if comp.slot in have and trial.suggest_categorical(f"use:{comp.name}", [False, True]):
            used.append(comp.name)
            for spec in comp.knobs:
                knobs[spec.name] = _suggest(trial, spec)
    if "TOP_K" in module_constants(skeleton):
        knobs["TOP_K"] = _suggest(trial, TOP_K)
    return index, used, knobs


class Compose:
    name = "compose"
    arity = 1

    def __init__(self, seed: int = 0, objectives: list[tuple[str, str]] | None = None,
                 startup_trials: int = 10, skeleton: str = SKELETON, labelled: bool = False,
                 screen: bool | str = "auto", evaluations: int = 0, screen_rounds: int = SCREEN_ROUNDS,
                 screen_knobs: int = SCREEN_KNOBS, screen_prune: bool = False) -> None:
        self.seed = seed
        if screen not in (True, False, "auto"):
            raise ValueError(f"compose: screen must be true, false or auto, not {screen!r}")
        if isinstance(screen_rounds, bool) or not isinstance(screen_rounds, int) or screen_rounds < 1:
            raise ValueError(f"compose: screen_rounds must be a whole number of at least 1, not {screen_rounds!r}")
        self.screen = evaluations >= SCREEN_MIN_EVALUATIONS if screen == "auto" else bool(screen)
        self.screen_rounds = screen_rounds
        if isinstance(screen_knobs, bool) or not isinstance(screen_knobs, int) or screen_knobs < 0:
            raise ValueError(f"compose: screen_knobs must be a whole number of at least 0, not {screen_knobs!r}")
        self.screen_knobs = screen_knobs
        if not isinstance(screen_prune, bool):
            raise ValueError(f"compose: screen_prune must be true or false, not {screen_prune!r}")
        self.screen_prune = screen_prune
        self.screen_kept: set[str] | None = None  # with screen_prune: the steps that beat the base in round 1
        self.knobs_done = 0  # knob trials of the screen's best a resumed campaign's history holds
        self.screen_over = False  # the rounds are over: what the queue holds are knob trials
        self.screen_round = 0  # rounds started
        self.screen_queue: list[dict[str, Any]] = []
        self.round_base: dict[str, Any] | None = None
        self.round_trials: list[dict[str, Any]] = []  # the parameters the running round screens
        self.labelled = labelled  # offer components that need an experience stream's labels
        self.objectives = objectives or []
        self.startup_trials = startup_trials
        self.skeleton = seed_source(skeleton)
        self.study: Any = None
        self.open_trials: dict[int, Any] = {}

    def _study(self) -> Any:
        if self.study is None:
            import optuna

            optuna.logging.set_verbosity(logging.WARNING)
            warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # `group` is stable enough
            directions = ["maximize" if d == "max" else "minimize" for _, d in self.objectives]
            sampler = optuna.samplers.TPESampler(seed=self.seed, multivariate=True, group=True,
                                                 n_startup_trials=self.startup_trials)
            self.study = optuna.create_study(directions=directions, sampler=sampler)
        return self.study

    def _screen_next(self) -> dict[str, Any] | None:
        """The next screening trial's parameters (None once the screen is done or off, and while a
        round waits for its last results); a knob trial's parameters fix only the structure."""
        while not self.screen_queue:
            if not self.screen or self.screen_over:
                return None
            if self.screen_round == 0:
                base, stepped = structure_of(self.skeleton), True
            else:
                found = self._round_winner()
                if found is WAIT:
                    return None
                base, stepped = found
            if base is None:  # nothing to screen from
                self.screen_round, self.screen_over = self.screen_rounds, True
                return None
            if not stepped or self.screen_round >= self.screen_rounds:  # the rounds are over: the best's knobs
                self.screen_round, self.screen_over = self.screen_rounds, True
                fixed = {n: v for n, v in base.items() if n == "index" or n.startswith("use:")}
                self.screen_queue = [dict(fixed) for _ in range(max(0, self.screen_knobs - self.knobs_done))]
                continue
            self.screen_round += 1
            queue = screen_trials(base, slots(self.skeleton), self.labelled, self.seed + self.screen_round - 1,
                                  indexes=self.screen_round == 1)
            if self.screen_round > 1 and self.screen_kept is not None:  # pruned: only what paid alone
                queue = [p for p in queue if _added(p, base) <= self.screen_kept]
            done = {trial_shape(t.params) for t in self._study().get_trials(deepcopy=False)}
            self.round_base, self.round_trials = base, queue
            self.screen_queue = [p for p in queue if trial_shape(p) not in done]
        return self.screen_queue.pop(0)

    def _round_winner(self) -> Any:
        """(the finished round's best structure as trial parameters, whether it is one step more than the
        round's base): its best program with one more step (an index swap is an alternative to the
        skeleton, not a step to build on) when that beats the base, else the base; (None, False) when
        there is no round or no quality objective; WAIT while a trial of the round has no result yet."""
        quality = next((i for i, (_m, d) in enumerate(self.objectives) if d == "max"), None)
        cheap = next((i for i, (_m, d) in enumerate(self.objectives) if d == "min"), None)
        if quality is None or self.round_base is None:
            return None, False
        import optuna

        # a step is judged by its screen trial against the base's own trial, not against programs of the
        # same structure with other knobs (a `tune` child of the base is a free trial of this study)
        by_params: dict[tuple[Any, ...], list[Any]] = {}
        for t in self._study().get_trials(deepcopy=False):
            by_params.setdefault(_params_key(t.params), []).append(t)
        state = optuna.trial.TrialState
        if any(by_params.get(_params_key(p)) and all(t.state == state.RUNNING for t in by_params[_params_key(p)])
               for p in self.round_trials):
            return WAIT

        def best(screened: list[dict[str, Any]]) -> Any:
            done = [t for p in screened for t in by_params.get(_params_key(p), []) if t.state == state.COMPLETE]
            return max(done, key=lambda t: (t.values[quality], -t.values[cheap] if cheap is not None else 0.0),
                       default=None)

        steps = [p for p in self.round_trials if p["index"] == self.round_base["index"]]  # not index swaps
        top, base = best(steps), best([self.round_base])
        if self.screen_prune and self.screen_round == 1:
            self.screen_kept = {name for p in steps if (t := best([p])) is not None
                                and (base is None or t.values[quality] > base.values[quality])
                                for name in _added(p, self.round_base)}
        if top is None or (base is not None and top.values[quality] <= base.values[quality]):
            return self.round_base, False
        return dict(top.params), True

    def propose(self, ctx: OperatorContext) -> Proposal:
        if not self.objectives:
            self.objectives = [(m, "max") for m in ctx.objectives]
        parent = ctx.parents[0] if ctx.parents else None
        own = parent is not None and index_line(parent.code) is not None  # a pipeline, whatever its knob values
        skeleton = parent.code if own else self.skeleton
        study = self._study()
        screened = self._screen_next()
        knob_trial = screened is not None and self.screen_over  # the screen's best structure, the model's knobs
        if screened is not None:
            own, skeleton = False, self.skeleton
            study.enqueue_trial(screened)
        trial = study.ask()
        index, used, knobs = ask(trial, skeleton, self.labelled)
        try:
            code = build(skeleton, index, used, knobs)
        except OperatorError:
            study.tell(trial, state=_failed())
            raise
        problems = validate_source(code)
        if problems:
            study.tell(trial, state=_failed())
            raise OperatorError(f"compose made an invalid program: {problems[0].render()}")
        self.open_trials[trial.number] = trial
        shape = present(code)
        parts = [f"index={index}"] + [f"{s}: {' → '.join(shape[s])}" for s in ("text", "query", "hits", "turns")
                                      if shape.get(s)]
        kind = ("knob trial" if knob_trial else f"screen (round {self.screen_round}) trial" if screened is not None
                else "trial")
        note = f"compose {kind} {trial.number}: " + "; ".join(parts)
        if knob_trial:
            note += " (the screen's best, its knobs from the model)"
        meta: dict[str, Any] = {"compose_trial": trial.number, "params": dict(trial.params)}
        if knob_trial:
            meta["screen_knobs"] = True
        return Proposal(code=code, note=note, operator=self.name,
                        parents=(parent.id,) if own else (),  # built from the skeleton: no parent's code in it
                        meta=meta)

    def observe(self, meta: dict[str, Any], metrics: dict[str, float] | None, on_front: bool) -> None:
        trial = self.open_trials.pop(meta.get("compose_trial"), None)
        if trial is None:
            return
        if metrics is None or any(m not in metrics for m, _ in self.objectives):
            self.study.tell(trial, state=_failed())
        else:
            self.study.tell(trial, [metrics[m] for m, _ in self.objectives])

    def learn(self, code: str, metrics: dict[str, float] | None) -> None:
        """Another operator's pipeline candidate finished: it is a free trial of this study."""
        if not self.objectives or metrics is None or any(m not in metrics for m, _ in self.objectives):
            return
        params = structure_of(code)
        if params is None:
            return
        import optuna

        self._study().add_trial(optuna.trial.create_trial(
            params=params, distributions=distributions(params), values=[metrics[m] for m, _ in self.objectives]))

    def restore(self, history: list[tuple[str, str, dict[str, Any], dict[str, float] | None]]) -> None:
        """A resumed campaign: every finished pipeline candidate, its own included, rejoins the study;
        the knob trials of the screen's best it already made are not made again."""
        for operator, code, meta, metrics in history:
            self.learn(code, metrics)
            self.knobs_done += operator == self.name and bool(meta.get("screen_knobs"))


def _params_key(params: dict[str, Any]) -> tuple[Any, ...]:
    """One program's trial parameters, whatever `use:` flags were asked (a label step is not asked
    outside labelled tasks): the index, the steps used and the knobs."""
    return tuple(sorted((n, v) for n, v in params.items() if not (n.startswith("use:") and not v)))


def _added(params: dict[str, Any], base: dict[str, Any]) -> set[str]:
    """The steps a screen trial uses that its base does not."""
    return {n[4:] for n, v in params.items() if n.startswith("use:") and v and not base.get(n)}


def trial_shape(params: dict[str, Any]) -> tuple[Any, ...]:
    return (params.get("index"),) + tuple(sorted(n for n, v in params.items() if n.startswith("use:") and v))


def screen_trials(base: dict[str, Any] | None, have: dict[str, Any], labelled: bool, seed: int,
                  indexes: bool = True) -> list[dict[str, Any]]:
    """One trial per catalogue choice away from `base` (trial parameters, `structure_of` a program
    whose slots are `have`): each component it can take (and lacks) added alone at its default knobs,
    in an order shuffled by `seed`, then — with `indexes` — each other index at its default knobs.
    Empty when `base` is None (not a pipeline whose knobs lie in the catalogue's ranges)."""
    import random

    if base is None:
        return []
    comps = [c for c in _choosable() if c.slot in have and not base.get(f"use:{c.name}")
             and (labelled or not c.labelled)]
    random.Random(seed).shuffle(comps)
    index_params = {s.name for s in COMPONENTS[base["index"]].params.values()}
    out = []
    for c in comps:
        out.append({**base, f"use:{c.name}": True, **{k.name: k.default for k in c.knobs}})
    if indexes:
        kept = {n: v for n, v in base.items() if n not in index_params and n != "index"}
        for name in sorted(c.name for c in INDEXES.values()):
            if name != base["index"]:
                out.append({**kept, "index": name, **{k.name: k.default for k in COMPONENTS[name].params.values()}})
    return out


WAIT = object()  # a screening round still has trials without a result


def _failed() -> Any:
    import optuna

    return optuna.trial.TrialState.FAIL
