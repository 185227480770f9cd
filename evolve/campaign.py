"""The campaign loop: asynchronous steady state on Ray.

Keep `parallel` evaluations in flight; whenever one finishes, record it, move the candidate
through the cascade (or stop it), update the archive, and refill the pipe with children
made by operators from Pareto-selected parents. Every decision lands in the store, so a
campaign killed at any moment resumes where it was.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from design_space.seeds import seed_names, seed_source
from design_space.validate import validate_source
from evolve.archive import Archive
from evolve.cascade import GATES
from evolve.config import CampaignConfig, ConfigError, dump_config
from evolve.evaluate import RayEvaluator, init_ray
from evolve.novelty import program_hash
from evolve.operators import build_operators
from evolve.operators.base import CandidateView, OperatorContext, OperatorError
from evolve.select import ParetoTournament
from evolve.store import Store
from sandboxes.job import Job, Limits
from sandboxes.tasks import TaskError, get_task

MAX_FAILED_PROPOSALS = 200  # consecutive operator failures before the campaign gives up making children


@dataclass
class Progress:
    """Callbacks for whoever shows progress (the CLI's progress bar)."""

    on_done: Callable[[str, str], None] = lambda cid, outcome: None
    on_log: Callable[[str], None] = lambda msg: None


def load_seed(ref: str, base: Path) -> tuple[str, str]:
    """A seed is a name from design_space/seeds or a path to a program file (relative to the config)."""
    if ref in seed_names():
        return ref, seed_source(ref)
    path = Path(ref) if Path(ref).is_absolute() else base / ref
    if path.suffix == ".py" and path.is_file():
        return path.stem, path.read_text(encoding="utf-8")
    raise ConfigError(f"seeds: {ref!r} is neither a seed name ({', '.join(seed_names())}) nor a .py file")


class Campaign:
    def __init__(self, config: CampaignConfig, run_dir: Path, store: Store, progress: Progress | None = None,
                 config_dir: Path | None = None) -> None:
        self.config = config
        self.run_dir = run_dir
        self.store = store
        self.progress = progress or Progress()
        self.config_dir = config_dir or Path.cwd()
        self.objectives = [(o.metric, o.direction) for o in config.objectives]
        self.stages = list(config.task.cascade)
        self.final = self.stages[-1]
        self.rng = random.Random(config.seed)
        self.operators = build_operators(config.operators)
        self.selector = ParetoTournament()
        self.archive = Archive.load(store, self.objectives, self.final)
        self.evaluator: RayEvaluator | None = None
        self.failed_proposals = 0
        self.stop_reason = ""

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def create(cls, config: CampaignConfig, runs_dir: Path, config_dir: Path | None = None,
               progress: Progress | None = None) -> "Campaign":
        seeds = [load_seed(s, config_dir or Path.cwd()) for s in config.seeds]
        for name, code in seeds:
            problems = validate_source(code)
            if problems:
                raise ConfigError(f"seeds: {name} is not a valid program: {problems[0].render()}")
        try:
            get_task(config.task.name).build(config.task.params, config.task.cascade[0], config.seed)
        except TaskError as exc:
            raise ConfigError(f"task: {exc}") from None
        build_operators(config.operators)  # unknown operators fail before anything is written
        store = Store.create(runs_dir / config.name, dump_config(config))
        for name, code in seeds:
            if store.add_candidate(code, program_hash(code), (), f"seed:{name}", f"seed {name}") is None:
                store.log("duplicate_seed", seed=name)
        return cls(config, runs_dir / config.name, store, progress, config_dir)

    # ---- the loop -----------------------------------------------------------------------
    def run(self) -> str:
        init_ray(self.config.ray.address, self.config.ray.num_cpus)
        self.evaluator = RayEvaluator(self.config.sandbox.backend)
        started = time.monotonic()
        spent_before = float(self.store.meta("elapsed_s") or 0.0)
        self.store.log("session_start", pending=len(self._pending()))
        try:
            for cid, stage in self._pending():
                self._submit(cid, stage)
            while True:
                elapsed = spent_before + time.monotonic() - started
                if not self.stop_reason:
                    self.stop_reason = self._budget_exhausted(elapsed)
                if not self.stop_reason:
                    self._fill(elapsed)
                if len(self.evaluator) == 0:
                    break
                if self.stop_reason.startswith("wall"):
                    self.evaluator.cancel_all()  # unfinished work reruns on resume
                    break
                for (cid, stage), result in self.evaluator.wait(timeout=1.0):
                    self._record(cid, stage, result)
        except KeyboardInterrupt:
            if self.evaluator:
                self.evaluator.cancel_all()
            self.stop_reason = "interrupted (resume with `memarch resume`)"
            raise
        finally:
            self.store.set_meta("elapsed_s", str(spent_before + time.monotonic() - started))
            self.store.log("session_end", reason=self.stop_reason or "budget spent")
        return self.stop_reason or "budget spent"

    def _budget_exhausted(self, elapsed: float) -> str:
        budget = self.config.budget
        if budget.wall_seconds is not None and elapsed >= budget.wall_seconds:
            return f"wall-clock budget of {budget.wall_seconds:g} s spent"
        if budget.llm_dollars is not None and self.store.llm_spend() >= budget.llm_dollars:
            return f"LLM budget of ${budget.llm_dollars:g} spent"
        if self.store.count_candidates() >= budget.evaluations:
            return "evaluation budget spent"
        if self.failed_proposals >= MAX_FAILED_PROPOSALS:
            return f"operators failed {MAX_FAILED_PROPOSALS} times in a row to make a new program"
        return ""

    def _fill(self, elapsed: float) -> None:
        assert self.evaluator is not None
        while len(self.evaluator) < self.config.parallel and not self._budget_exhausted(elapsed):
            if not len(self.archive):
                return  # nothing to breed from yet: seeds are still being evaluated
            self._make_child()

    def _make_child(self) -> bool:
        ops, weights = zip(*self.operators)
        op = self.rng.choices(ops, weights=weights)[0]
        ranked = self.archive.ranked()
        parent_ids = self.selector.pick(ranked, op.arity, self.rng)
        front = [r.id for r in ranked if r.rank == 0 and r.id not in parent_ids]
        inspirations = self.rng.sample(front, min(2, len(front)))
        ctx = OperatorContext(parents=[self._view(p) for p in parent_ids],
                              inspirations=[self._view(i) for i in inspirations],
                              lineage=self._lineage_notes(parent_ids[0]),
                              rng=random.Random(self.rng.getrandbits(64)),
                              objectives=[m for m, _ in self.objectives], task=self.config.task.name)
        try:
            proposal = op.propose(ctx)
        except OperatorError as exc:
            self.failed_proposals += 1
            self.store.log("operator_failed", operator=op.name, parents=parent_ids, error=str(exc)[:500])
            return False
        cand = self.store.add_candidate(proposal.code, program_hash(proposal.code), proposal.parents,
                                        proposal.operator, proposal.note, proposal.meta.get("prompt_hash"),
                                        proposal.meta)
        if cand is None:
            self.failed_proposals += 1
            self.store.log("duplicate", operator=op.name, parents=parent_ids)
            return False
        self.failed_proposals = 0
        self.store.log("child", candidate=cand.id, operator=op.name, parents=list(proposal.parents),
                       note=proposal.note)
        self._submit(cand.id, self.stages[0])
        return True

    def _job(self, cid: str, stage: str) -> Job:
        limits = Limits(**self.config.sandbox.limits.model_dump())
        return Job(program=self.store.candidate(cid).code, task=self.config.task.name,
                   task_params=dict(self.config.task.params), fidelity=stage, limits=limits,
                   seed=self.config.seed, job_id=f"{self.config.name}/{cid}/{stage}")

    def _submit(self, cid: str, stage: str) -> None:
        assert self.evaluator is not None
        self.evaluator.submit((cid, stage), self._job(cid, stage))

    def _record(self, cid: str, stage: str, result) -> None:
        self.store.add_evaluation(cid, stage, result)
        if result.status != "ok":
            self._done(cid, f"{result.status}: {result.error.splitlines()[-1][:160] if result.error else ''}")
            return
        if stage == self.final:
            before = set(self.archive.front())
            self.archive.add(cid, result.metrics)
            on_front = cid in self.archive.front()
            if on_front and cid not in before:
                vals = ", ".join(f"{m}={result.metrics.get(m, float('nan')):.4g}" for m, _ in self.objectives)
                self.progress.on_log(f"{cid} joins the front ({vals})")
            self._done(cid, "front" if on_front else "ok")
            return
        parents = self.store.candidate(cid).parents
        parent_results = [e for p in parents if (e := self.store.evaluation(p, stage)) is not None]
        reason = GATES[stage].passes(result, [self._as_result(e) for e in parent_results], self.objectives)
        if reason:
            self.store.log("pruned", candidate=cid, stage=stage, reason=reason)
            self._done(cid, f"stopped at {stage}: {reason}")
            return
        self._submit(cid, self.stages[self.stages.index(stage) + 1])

    def _done(self, cid: str, outcome: str) -> None:
        self.store.log("done", candidate=cid, outcome=outcome)
        self.progress.on_done(cid, outcome)

    @staticmethod
    def _as_result(ev):
        from sandboxes.job import Result

        return Result(status=ev.status, metrics=ev.metrics, error=ev.error)

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

    def _view(self, cid: str) -> CandidateView:
        cand = self.store.candidate(cid)
        ev = self.store.evaluation(cid, self.final)
        return CandidateView(id=cid, code=cand.code, metrics=ev.metrics if ev else {},
                             per_category=ev.per_category if ev else {}, failures=ev.failures if ev else [],
                             operator=cand.operator, note=cand.note)

    def _lineage_notes(self, cid: str) -> list[str]:
        notes = []
        seen = set()
        while cid and cid not in seen:
            seen.add(cid)
            cand = self.store.candidate(cid)
            notes.append(f"{cid} ({cand.operator}): {cand.note}")
            cid = cand.parents[0] if cand.parents else ""
        return list(reversed(notes))
