"""The campaign loop: asynchronous steady state on Ray.

Keep `parallel` evaluations in flight on Ray and `parallel_proposals` children being made:
LLM operators' proposals are coroutines on the LLM client's one event loop (dozens wait on
models at once for little CPU; per-model limits and back-off live in the client), other
operators run on a small thread pool; `parallel_proposals` defaults to `parallel`. With
`parallel: 1` evaluations and proposals share the one slot. Whenever an evaluation
finishes: record it, move the candidate through the cascade (or stop it), update the archive
and tell the operator that made it. Whenever a proposal finishes: dedupe it, record it, queue
its evaluation. Every decision lands in the store, so a campaign killed at any moment resumes
where it was.

With `parallel: 1` the sequence of decisions does not depend on timing, so a campaign with a
fixed seed and recorded LLM responses replays to the same candidates.
"""
from __future__ import annotations

import random
import signal
from collections import deque
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from design_space.validate import validate_source
from evolve.archive import Archive
from evolve.campaign_setup import (BANDIT_KEY, absolute_cassette, build_llm, check_sandbox, load_seed,
                                   prepare_embeddings, sandbox_options, save_bandit)
from evolve.cascade import GATES
from evolve.config import CampaignConfig, ConfigError, dump_config, with_split_defaults
from evolve.evaluate import RayEvaluator, init_ray
from evolve.novelty import program_hash
from evolve.operators import OperatorDeps, build_operators
from evolve.operators.base import CandidateView, Operator, OperatorContext, OperatorError, Proposal
from evolve.reference import (campaign_reference, check_objectives, fix_budget, fix_reference, probe_task,
                              reference_values, stored_budget, stored_values)
from evolve.select import ParetoTournament
from evolve.stop import (AnyOf, CampaignState, FailedProposals, MaxEvaluations, MaxLLMDollars, MaxLLMTokens,
                         MaxWallSeconds, NoImprovement, StopCondition, StopFile)
from evolve.store import Store
from sandboxes.job import Job, Limits, Result
from sandboxes.tasks import LABELLED, TaskError, get_task

LINEAGE_DEPTH = 12  # ancestors whose notes an operator sees: a prompt's size must not grow with the campaign
MAX_FAILED_PROPOSALS = 200  # consecutive operator failures before the campaign gives up making children


@dataclass
class Progress:
    """Callbacks for whoever shows progress (the CLI's progress bar)."""

    on_done: Callable[[str, str], None] = lambda cid, outcome: None
    on_log: Callable[[str], None] = lambda msg: None


def _deps(config: CampaignConfig, client: Any, bandit: Any, seed_programs: dict[str, str],
          token_budget: int) -> OperatorDeps:
    return OperatorDeps(seed=config.seed, objectives=[(o.metric, o.direction) for o in config.objectives],
                        client=client, bandit=bandit,
                        max_fix_attempts=config.llm.max_fix_attempts if config.llm else 2,
                        full_rewrite=config.llm.full_rewrite if config.llm else False, seed_programs=seed_programs,
                        labelled=config.task.name in LABELLED, token_budget=token_budget,
                        evaluations=config.budget.evaluations)


VIEW_CACHE = 4096  # views (code, metrics, failures) kept by the driver; the oldest goes first


def _remember(cache: dict, key: str, value: Any) -> None:
    if len(cache) >= VIEW_CACHE:
        del cache[next(iter(cache))]
    cache[key] = value


class Campaign:
    def __init__(self, config: CampaignConfig, run_dir: Path, store: Store, progress: Progress | None = None) -> None:
        self.config = config
        self.run_dir = run_dir
        self.store = store
        self.progress = progress or Progress()
        self.objectives = [(o.metric, o.direction) for o in config.objectives]
        self.stages = list(config.task.cascade)
        self.final = self.stages[-1]
        self.rng = random.Random(f"{config.seed}:{store.count_candidates()}")
        self.client, self.bandit = build_llm(config, store)
        self.operators = build_operators(config.operators, _deps(config, self.client, self.bandit, {
            c.operator.removeprefix("seed:"): c.code for c in store.candidates() if c.operator.startswith("seed:")},
            stored_budget(store, config)))
        self.by_name: dict[str, Operator] = {op.name: op for op, _w in self.operators}
        self.tournament = ParetoTournament(config.selection.explore)
        self.archive, self.islands = self._load_archives()
        if stored_values(store, config) is None:  # a database from before references were fixed
            fix_reference(store, config, reference_values(config, probe_task(config)))
        self.reference = campaign_reference(store, config)
        self.best_hv = self.archive.hypervolume(self.reference)
        self._held_out: tuple[set[str], set[str]] | None = None
        # Every child reads its parents' and inspirations' views and its lineage's notes: a candidate
        # with its final result never changes, so each is read from the store once (bounded).
        self._views: dict[str, CandidateView] = {}
        self._notes: dict[str, tuple[str, str]] = {}  # cid -> (lineage line, first parent)
        self._seeds: list[str] | None = None
        self.since_improvement = 0
        self.failed_proposals = 0
        self.evaluator: RayEvaluator | None = None
        self.proposals: dict[Future, tuple[Operator, list[str], int]] = {}
        self.waiting: deque[tuple[str, str]] = deque()  # (candidate, stage) to evaluate when a slot frees
        # reproducible: true — evaluations in submission order, and results that came back early
        self._tickets: deque[tuple[str, str]] = deque()
        self._early: dict[tuple[str, str], Result] = {}
        self._wake = threading.Event()  # set when a proposal finishes: the loop need not poll for it
        self._unpriced_said = False
        self.stop_reason = ""
        self._interrupts = 0
        self._holdout_sent: set[str] = set()
        self.embed_dir = ""
        self._clock = (time.monotonic(), 0.0)
        self._restore_operators()

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def create(cls, config: CampaignConfig, runs_dir: Path, config_dir: Path | None = None,
               progress: Progress | None = None) -> "Campaign":
        base = config_dir or Path.cwd()
        config = with_split_defaults(absolute_cassette(config, base))
        seeds = [load_seed(s, base) for s in config.seeds]
        for name, code in seeds:
            problems = validate_source(code)
            if problems:
                raise ConfigError(f"seeds: {name} is not a valid program: {problems[0].render()}")
        try:
            get_task(config.task.name).build(config.task.params, config.task.cascade[0], config.seed)
            if config.task.holdout is not None:
                get_task(config.task.name).build({**config.task.params, **config.task.holdout}, "smoke", config.seed)
        except TaskError as exc:
            raise ConfigError(f"task: {exc}") from None
        probe = probe_task(config)
        check_objectives(config, probe)
        reference = reference_values(config, probe)
        check_sandbox(config)
        # Everything that can fail on a user's mistake (a missing API key, an unknown operator
        # parameter) fails here, before the store exists: a corrected re-run must not find a
        # half-made campaign under the same name.
        client, bandit = build_llm(config, None)
        build_operators(config.operators, _deps(config, client, bandit, dict(seeds), probe.budget_tokens))
        run_dir = runs_dir / config.name
        store = Store.create(run_dir, dump_config(config))
        try:
            fix_reference(store, config, reference)
            fix_budget(store, probe.budget_tokens)
            for name, code in seeds:
                meta = {"island": list(range(config.selection.islands))}
                if store.add_candidate(code, program_hash(code), (), f"seed:{name}", f"seed {name}",
                                       meta=meta) is None:
                    store.log("duplicate_seed", seed=name)
            return cls(config, run_dir, store, progress)
        except BaseException:
            store.close()
            for suffix in ("", "-wal", "-shm"):  # nothing half-made is left behind
                Path(f"{store.path}{suffix}").unlink(missing_ok=True)
            raise

    def _load_archives(self) -> tuple[Archive, list[Archive]]:
        """The campaign's archive and, with islands, one archive per island: members born there
        (seeds belong to every island) plus the migrants the store's `migrate` events name."""
        archive = Archive(self.objectives)
        n = self.config.selection.islands
        islands = [Archive(self.objectives) for _ in range(n)] if n > 1 else []
        homes = {c.id: c.meta.get("island", 0) for c in self.store.candidates()} if islands else {}
        sizes = self.store.code_sizes()
        for ev in self.store.evaluations(self.final):
            if ev.status != "ok" or ev.error:  # an error on an ok run is a health problem
                continue
            size = sizes.get(ev.candidate_id, 0)
            archive.add(ev.candidate_id, ev.metrics, ev.per_item, size)
            for i in self._homes(homes.get(ev.candidate_id, 0)) if islands else ():
                islands[i].add(ev.candidate_id, ev.metrics, ev.per_item, size)
        for _t, _k, d in self.store.events("migrate") if islands else ():
            for cid in d["ids"]:
                self._migrate_one(cid, islands[d["into"]], archive)
        return archive, islands

    def _homes(self, home: Any) -> list[int]:
        n = self.config.selection.islands
        return [int(i) % n for i in (home if isinstance(home, list) else [home])]

    def _migrate_one(self, cid: str, into: Archive, archive: Archive) -> None:
        if cid in archive and cid not in into:
            ev = self.store.evaluation(cid, self.final)
            into.add(cid, ev.metrics if ev else archive.metrics[cid], ev.per_item if ev else {},
                     archive.size_of(cid))

    def _migrate(self) -> None:
        """Ring migration: each island's front members join the next island."""
        n = len(self.islands)
        moves = [(src, (src + 1) % n, self.islands[src].front()) for src in range(n)]
        for _src, dst, ids in moves:
            new = [c for c in ids if c not in self.islands[dst]]
            for cid in new:
                self._migrate_one(cid, self.islands[dst], self.archive)
            if new:
                self.store.log("migrate", into=dst, ids=new)

    def _restore_operators(self) -> None:
        """Give stateful operators (tune's studies, the bandit) what earlier sessions learnt."""
        history: list[tuple[str, str, dict[str, Any], dict[str, float] | None]] = []
        front = set(self.archive.front())
        finished = {d["candidate"] for _t, _k, d in self.store.events("done")}
        for cand in self.store.candidates():
            if cand.id not in finished:
                # still being evaluated: its operator rebuilds what made it (tune: the study its
                # open trial belongs to, told when the evaluation finishes in this session)
                history.append((cand.operator, cand.code, cand.meta, None))
                continue
            ev = self.store.evaluation(cand.id, self.final)
            history.append((cand.operator, cand.code, cand.meta,
                            ev.metrics if ev is not None and ev.status == "ok" else None))
            if self.bandit is not None and cand.meta.get("arm") and self.store.meta(BANDIT_KEY) is None:
                # a database from before the bandit's state was saved: rebuild its counts
                self.bandit.update(cand.meta["arm"], float(cand.id in front), float(cand.meta.get("cost_usd", 0.0)))
        for op in self.by_name.values():
            restore = getattr(op, "restore", None)
            if restore is not None and history:
                restore(history)

    # ---- the loop -----------------------------------------------------------------------
    def run(self) -> str:
        self.embed_dir = prepare_embeddings(self.config, self.progress.on_log)
        init_ray(self.config.ray.address, self.config.ray.num_cpus, self.config.sandbox.backend)
        self.evaluator = RayEvaluator(self.config.sandbox.backend, sandbox_options(self.config))
        self.evaluator.ship_cache(self.embed_dir, self.config.task.embedder)
        stop_file = self.run_dir / "STOP"
        stop_file.unlink(missing_ok=True)
        stop = self._stop_conditions(stop_file)
        started = time.monotonic()
        spent_before = float(self.store.meta("elapsed_s") or 0.0)
        self._clock = (started, spent_before)
        pool = ThreadPoolExecutor(max_workers=self.config.parallel, thread_name_prefix="memarch-propose")
        old_handler = self._install_sigint()
        self.store.claim_driver()
        self.store.log("session_start", pending=len(self._pending()))
        try:
            for cid, stage in self._pending():
                self._submit(cid, stage)
            while True:
                self._harvest_proposals()
                self._pump()
                state = self._state(spent_before + time.monotonic() - started)
                if not self.stop_reason:
                    self.stop_reason = stop.reason(state)
                if self._interrupts and not self.stop_reason:
                    self.stop_reason = "interrupted"
                if not self.stop_reason:
                    self._fill_in_order() if self.config.reproducible else self._fill(pool)
                self._pump()
                if len(self.evaluator) == 0 and not self.proposals and not self.waiting:
                    if not self.stop_reason and not len(self.archive):
                        self.stop_reason = (f"nothing to breed from: none of {self.store.count_candidates()} candidates "
                                            "reached the archive (each failed a stage or scored nothing)")
                    if self._interrupts or not self._holdout():
                        break
                    continue
                if self.stop_reason.startswith("wall") or self._interrupts > 1:
                    for key in [k for k in self._tickets if k in self._early]:  # computed: never lost
                        self._record(*key, self._early.pop(key))
                    self.evaluator.cancel_all()  # unfinished work reruns on resume
                    break
                self._wait()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            for fut in self.proposals:  # proposals cut short make no candidate; their calls are recorded
                fut.cancel()
            if self.client is not None:
                self.client.close()
            if old_handler is not None:
                signal.signal(signal.SIGINT, old_handler)
            self.store.set_meta("elapsed_s", str(spent_before + time.monotonic() - started))
            self.store.log("session_end", reason=self.stop_reason or "budget spent")
        if self._interrupts:
            raise KeyboardInterrupt
        return self.stop_reason or "budget spent"

    def _wait(self) -> None:
        """Block until an evaluation or a proposal finishes (or a short while passes)."""
        assert self.evaluator is not None
        if len(self.evaluator) == 0:
            self._wake.wait(0.5)
            self._wake.clear()
            return
        # Ray cannot wait on our event as well. While every evaluation slot is busy a finished
        # proposal has nothing to start, so wait on Ray alone; otherwise poll briefly for proposals.
        if self._wake.is_set():
            self._wake.clear()
            timeout = 0.0
        elif len(self.evaluator) >= self.config.parallel or not self.proposals:
            timeout = 0.5
        else:
            timeout = 0.01
        for (cid, stage), result in self.evaluator.wait(timeout=timeout):
            if self.config.reproducible and (cid, stage) in self._tickets:
                self._early[(cid, stage)] = result
            else:
                self._record(cid, stage, result)
        while self._tickets and self._tickets[0] in self._early:  # reproducible: in submission order
            key = self._tickets.popleft()
            self._record(*key, self._early.pop(key))
            if not self.stop_reason:
                self._fill_in_order()  # the only other point where children are made

    def _install_sigint(self) -> Any:
        """First Ctrl-C: stop making children and let running evaluations finish. Second: stop now."""
        if threading.current_thread() is not threading.main_thread():
            return None

        def handler(signum: int, frame: Any) -> None:
            self._interrupts += 1
            self.progress.on_log("stopping after running evaluations finish (Ctrl-C again to stop now)"
                                 if self._interrupts == 1 else "stopping now")

        return signal.signal(signal.SIGINT, handler)

    def _stop_conditions(self, stop_file: Path) -> StopCondition:
        b = self.config.budget
        conds: list[StopCondition] = [MaxEvaluations(b.evaluations), FailedProposals(MAX_FAILED_PROPOSALS),
                                      StopFile(stop_file)]
        if b.wall_seconds is not None:
            conds.append(MaxWallSeconds(b.wall_seconds))
        if b.llm_dollars is not None:
            conds.append(MaxLLMDollars(b.llm_dollars))
        if b.llm_tokens is not None:
            conds.append(MaxLLMTokens(b.llm_tokens))
        if b.no_improvement is not None:
            conds.append(NoImprovement(b.no_improvement))
        return AnyOf(conds)

    def _state(self, elapsed: float) -> CampaignState:
        client = self.client
        return CampaignState(candidates=self.store.count_candidates(), elapsed_s=elapsed,
                             llm_usd=client.spent_usd if client is not None else 0.0,
                             since_improvement=self.since_improvement, failed_proposals=self.failed_proposals,
                             llm_tokens=client.tokens if client is not None else 0)

    @property
    def _shared_slots(self) -> bool:
        """At `parallel: 1` a child is made only while nothing is evaluated (the timing-free mode).

        Otherwise children are made while evaluations run: were proposals to wait for a free
        evaluation slot, that slot would idle while its next child is made (a structural edit
        costs ~9 ms of driver CPU, an evaluation of a small task ~60 ms: a sixth of the slots).
        """
        return self.config.parallel == 1

    def _proposal_slot(self) -> bool:
        assert self.evaluator is not None
        busy = len(self.proposals) + len(self.waiting)
        if self._shared_slots:
            return len(self.evaluator) + busy < self.config.parallel
        return busy < self.config.proposals_in_flight

    def _pump(self) -> None:
        """Start queued evaluations while fewer than `parallel` run (cascade continuations first)."""
        assert self.evaluator is not None
        while self.waiting and len(self.evaluator) < self.config.parallel:
            cid, stage = self.waiting.popleft()
            self.evaluator.submit((cid, stage), self._job(cid, stage))

    def _fill(self, pool: ThreadPoolExecutor) -> None:
        assert self.evaluator is not None
        while (self._proposal_slot()
               and self.store.count_candidates() + len(self.proposals) < self.config.budget.evaluations):
            if not len(self.archive):
                return  # nothing to breed from yet: seeds are still being evaluated
            if self.client is not None and self.client.exhausted():
                return  # dollars or tokens are spent or held by calls in flight: wait for those
            op, ctx, island = self._context()
            apropose = getattr(op, "apropose", None)
            if apropose is not None and self.client is not None:
                fut = self.client.submit(apropose(ctx))
            else:
                fut = pool.submit(op.propose, ctx)
            self.proposals[fut] = (op, [p.id for p in ctx.parents], island)
            fut.add_done_callback(lambda _f: self._wake.set())
            if self.config.parallel == 1:
                fut.exception()  # sequential mode: decisions never depend on timing

    def _fill_in_order(self) -> None:
        """`reproducible: true`: make children one at a time, in the main thread, while fewer than
        `parallel` submitted evaluations are unrecorded. Called only right after a result is recorded
        (results are recorded in submission order) or when nothing is unrecorded, so each child is made
        from a state that depends on the seed and the evaluations alone, never on which finished first."""
        while (len(self._tickets) < self.config.parallel and len(self.archive)
               and self.store.count_candidates() < self.config.budget.evaluations
               and self.failed_proposals < MAX_FAILED_PROPOSALS
               and not (self.client is not None and self.client.exhausted())):
            op, ctx, island = self._context()
            try:
                proposal = op.propose(ctx)
            except Exception as exc:  # noqa: BLE001 - an operator's failure is logged, as in _harvest_proposals
                self._failed(op, [p.id for p in ctx.parents], exc)
                continue
            self._accept(op, proposal, island)

    def _context(self) -> tuple[Operator, OperatorContext, int]:
        ops, weights = zip(*self.operators)
        op = self.rng.choices(ops, weights=weights)[0]
        island = self.store.count_candidates() % self.config.selection.islands
        view = self.islands[island] if self.islands and len(self.islands[island]) else self.archive
        strategy = self.config.selection.strategy
        use_coverage = strategy == "coverage" or (strategy == "mixed" and self.rng.random() < 0.3)
        parent_ids = view.coverage.pick(op.arity, self.rng) if use_coverage else []
        if len(parent_ids) < op.arity:  # no instance has a winner yet: the log says pareto, as it was
            use_coverage = False
            parent_ids = self.tournament.pick(view, op.arity, self.rng)
        if op.arity > 1 and len(set(parent_ids)) < op.arity and len(view) > 1:  # a merge needs distinct parents
            for _ in range(32):
                other = view.draw(self.rng)
                if other not in parent_ids:
                    parent_ids = parent_ids[:1] + [other]
                    break
        front = view.front_except(parent_ids)
        reads_front = getattr(op, "reads_front", False)
        inspirations = self.rng.sample(front, min(2, len(front)))
        ctx = OperatorContext(parents=[self._view(p) for p in parent_ids],
                              inspirations=[self._view(i) for i in inspirations],
                              lineage=self._lineage_notes(parent_ids[0]),
                              rng=random.Random(self.rng.getrandbits(64)),
                              objectives=[m for m, _ in self.objectives], task=self.config.task.name,
                              front=[self._view(c) for c in front] if reads_front else [],
                              references=[self._view(c) for c in self._seed_ids() if c in self.archive] if reads_front else [])
        self.store.log("propose", operator=op.name, parents=parent_ids, island=island,
                       selection="coverage" if use_coverage else "pareto")
        return op, ctx, island

    def _harvest_proposals(self) -> None:
        for fut in [f for f in self.proposals if f.done()]:
            op, parent_ids, island = self.proposals.pop(fut)
            exc = fut.exception()
            if exc is not None:
                self._failed(op, parent_ids, exc)
                continue
            self._accept(op, fut.result(), island)
        if self.client is not None and self.client.unpriced_calls and not self._unpriced_said:
            self._unpriced_said = True  # once a session: unpriced calls escape llm_dollars, say so
            self.store.log("unpriced_llm_calls", calls=self.client.unpriced_calls)
            self.progress.on_log(f"{self.client.unpriced_calls} LLM call(s) had no known price and count $0 "
                                 "(set price_in/price_out, or bound them with budget.llm_tokens)")

    def _failed(self, op: Operator, parent_ids: list[str], exc: BaseException) -> None:
        """Log an operator's failure; a replay that asks what its cassette never recorded ends the campaign
        (every later prompt would miss too: the run has left the recorded path)."""
        self.failed_proposals += 1
        self._observe(op, getattr(exc, "meta", {}) or {}, None, False)
        kind = "operator_failed" if isinstance(exc, OperatorError) else "operator_crashed"
        self.store.log(kind, operator=op.name, parents=parent_ids, error=f"{type(exc).__name__}: {exc}"[:800])
        if self.client is not None and not self.stop_reason:
            from evolve.llm import CassetteMiss  # loaded with the client already

            if isinstance(exc, CassetteMiss):
                self.stop_reason = f"replay left its recording: {exc}"

    def _accept(self, op: Operator, proposal: Proposal, island: int) -> None:
        meta = dict(proposal.meta, island=island)
        cand = self.store.add_candidate(proposal.code, program_hash(proposal.code), proposal.parents,
                                        proposal.operator, proposal.note, proposal.meta.get("prompt_hash") or None,
                                        meta)
        if cand is None:
            self.failed_proposals += 1
            self._observe(op, proposal.meta, None, False)
            self.store.log("duplicate", operator=op.name, parents=list(proposal.parents))
            return
        self.failed_proposals = 0
        ids = proposal.meta.get("call_ids") or []
        hashes = proposal.meta.get("call_hashes") or []
        if ids and all(isinstance(i, int) for i in ids):
            self.store.attach_llm_call_ids(cand.id, ids)
        elif hashes:  # calls recorded without their row ids (no store attached when they were made)
            self.store.attach_llm_calls(cand.id, hashes)
        self.store.log("child", candidate=cand.id, operator=op.name, parents=list(proposal.parents),
                       note=proposal.note)
        if self.islands and cand.seq % self.config.selection.migration_interval == 0:
            self._migrate()
        self._submit(cand.id, self.stages[0])

    def _observe(self, op: Operator | None, meta: dict[str, Any], metrics: dict[str, float] | None,
                 on_front: bool) -> None:
        if op is None:
            return
        observe = getattr(op, "observe", None)
        if observe is not None:
            observe(meta, metrics, on_front)
        if self.bandit is not None and meta.get("arm"):
            self.bandit.update(meta["arm"], float(on_front), float(meta.get("cost_usd", 0.0)))
            save_bandit(self.store, self.bandit)

    def _job(self, cid: str, stage: str) -> Job:
        limits = Limits(**self.config.sandbox.limits.model_dump())
        return Job(program=self.store.candidate(cid).code, task=self.config.task.name,
                   task_params=dict(self.config.task.params), fidelity=stage, limits=limits,
                   seed=self.config.seed, job_id=f"{self.config.name}/{cid}/{stage}",
                   embedder=self.config.task.embedder, embed_cache=self.embed_dir,
                   answer=dict(self.config.task.answer or {}),
                   validated=True)  # every stored program was validated (or is a knob-only child of one)

    def _submit(self, cid: str, stage: str) -> None:
        """Queue an evaluation; a candidate already in its cascade goes before new ones."""
        if self.config.reproducible:
            self._tickets.append((cid, stage))
        if stage == self.stages[0]:
            self.waiting.append((cid, stage))
        else:
            self.waiting.appendleft((cid, stage))
        self._pump()

    def _record(self, cid: str, stage: str, result: Result) -> None:
        self.store.add_evaluation(cid, stage, result)
        started, spent_before = self._clock  # kept current so a kill -9 loses at most one evaluation's time
        self.store.set_meta("elapsed_s", str(spent_before + time.monotonic() - started))
        if stage == "holdout":
            self.store.log("holdout", candidate=cid, status=result.status)
            return
        cand = self.store.candidate(cid)
        op = self.by_name.get(cand.operator)
        if result.status != "ok":
            self._observe(op, cand.meta, None, False)
            self._done(cid, f"{result.status}: {result.error.strip().splitlines()[-1][:160] if result.error.strip() else ''}")
            return
        if stage == self.final:
            if result.error:  # ok, but unhealthy (stored nothing, recalled nothing): never on the front
                self._observe(op, cand.meta, None, False)
                self._done(cid, f"unhealthy: {result.error[:160]}")
                return
            on_front = self.archive.add(cid, result.metrics, result.per_item, len(cand.code))
            for i in self._homes(cand.meta.get("island", 0)) if self.islands else ():
                self.islands[i].add(cid, result.metrics, result.per_item, len(cand.code))
            if on_front:
                vals = ", ".join(f"{m}={result.metrics.get(m, float('nan')):.4g}" for m, _ in self.objectives)
                self.progress.on_log(f"{cid} ({cand.operator}) joins the front: {vals}")
                hv = self.archive.hypervolume(self.reference)  # only a new front member can change it
                if hv > self.best_hv + 1e-12:
                    self.best_hv, self.since_improvement = hv, 0
                else:
                    self.since_improvement += 1
                self.store.log("front", candidate=cid, on_front=True, hypervolume=hv,
                               front_size=len(self.archive.front_points()))
            else:
                self.since_improvement += 1
                self.store.log("front", candidate=cid, on_front=False, hypervolume=self.best_hv)
            self._observe(op, cand.meta, result.metrics, on_front)
            for other in self.by_name.values():  # e.g. tune learns from knob-only children of any operator
                learn = getattr(other, "learn", None)
                if learn is not None and other is not op:
                    learn(cand.code, result.metrics)
            self._done(cid, "front" if on_front else "ok")
            return
        parent_results = [e for p in cand.parents if (e := self.store.evaluation(p, stage)) is not None]
        reason = GATES[stage].passes(result, [Result(status=e.status, metrics=e.metrics, error=e.error)
                                              for e in parent_results], self.objectives)
        if reason:
            self.store.log("pruned", candidate=cid, stage=stage, reason=reason)
            self._observe(op, cand.meta, None, False)
            self._done(cid, f"stopped at {stage}: {reason}")
            return
        self._submit(cid, self.stages[self.stages.index(stage) + 1])

    def _holdout(self) -> bool:
        """Once the search is over, measure the seeds and the front on the held-out data.

        Returns True when it submitted something (the loop then waits for it)."""
        if self.config.task.holdout is None or self.stop_reason.startswith("wall"):
            return False
        assert self.evaluator is not None
        seeds = [c for c in self._seed_ids() if c in self.archive]
        todo = [c for c in sorted(set(self.archive.front()) | set(seeds))
                if self.store.evaluation(c, "holdout") is None and c not in self._holdout_sent]
        for cid in todo:
            job = self._job(cid, self.config.task.holdout_fidelity or self.final)
            params = {**job.task_params, **self.config.task.holdout}
            self.evaluator.submit((cid, "holdout"), Job(**{**job.__dict__, "task_params": params,
                                                          "job_id": f"{self.config.name}/{cid}/holdout"}))
            self._holdout_sent.add(cid)
        if todo:
            self.progress.on_log(f"measuring {len(todo)} front members and seeds on the held-out data")
        return bool(todo)

    def _done(self, cid: str, outcome: str) -> None:
        self.store.log("done", candidate=cid, outcome=outcome)
        self.progress.on_done(cid, outcome)

    # ---- state from the store -----------------------------------------------------------
    def _pending(self) -> list[tuple[str, str]]:
        """Candidates whose cascade has not ended, with the stage they must run next."""
        finished = {d["candidate"] for _t, _k, d in self.store.events("done")}
        out = []
        for cand in self.store.candidates():
            if cand.id in finished:
                continue
            for stage in self.stages:
                ev = self.store.evaluation(cand.id, stage)
                if ev is None:
                    out.append((cand.id, stage))
                    break
                if ev.status != "ok":
                    break
        return out

    def _seed_ids(self) -> list[str]:
        """The campaign's seeds (all stored before its first proposal), read from the store once."""
        if self._seeds is None:
            self._seeds = [c.id for c in self.store.candidates() if c.operator.startswith("seed:")]
        return self._seeds

    def _view(self, cid: str) -> CandidateView:
        if cid in self._views:
            return self._views[cid]
        cand = self.store.candidate(cid)
        ev = self.store.evaluation(cid, self.final)
        view = CandidateView(id=cid, code=cand.code, metrics=ev.metrics if ev else {},
                             per_category=ev.per_category if ev else {},
                             failures=self._searchable(ev.failures) if ev else [],
                             operator=cand.operator, note=cand.note)
        if ev is not None:  # final: the view cannot change any more
            _remember(self._views, cid, view)
        return view

    def _searchable(self, failures: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Failures an operator may show an LLM: none about a held-out question, whatever split the
        search ran on — the front is measured on those, so their gold must never reach a prompt."""
        if self.config.task.holdout is None:
            return failures
        if self._held_out is None:
            task = self.config.task
            stream = get_task(task.name).build({**task.params, **task.holdout}, "full", self.config.seed)
            # ids name the same question in every split of a task that has splits; elsewhere (a
            # holdout of other generator params) ids repeat with other content, so texts decide
            ids = set(stream.gold) if getattr(get_task(task.name), "has_splits", False) else set()
            self._held_out = (ids, {t for t in stream.query_text.values() if t})
        ids, questions = self._held_out
        return [f for f in failures if f.get("query_id") not in ids and f.get("question") not in questions]

    def _lineage_notes(self, cid: str) -> list[str]:
        """The change notes of the most recent LINEAGE_DEPTH ancestors, oldest first."""
        notes = []
        seen = set()
        while cid and cid not in seen and len(notes) < LINEAGE_DEPTH:
            seen.add(cid)
            if cid not in self._notes:  # a candidate's operator, note and parents are fixed at birth
                cand = self.store.candidate(cid)
                _remember(self._notes, cid, (f"{cid} ({cand.operator}): {cand.note}",
                                             cand.parents[0] if cand.parents else ""))
            line, cid = self._notes[cid]
            notes.append(line)
        return list(reversed(notes))
