"""The pre-flight's LLM estimate uses the real prompts, and its smoke run the configured backend."""
from design_space.seeds import seed_source
from evolve.config import parse_config
from evolve.operators import prompts
from evolve.preflight import estimate, prompt_tokens

MODEL = {"model": "openai/local", "api_base": "http://127.0.0.1:9/v1", "price_in": 1.0, "price_out": 1.0}


def config(operators, **extra):
    return parse_config({"name": "pf", "seeds": ["bm25_rag"], "operators": operators,
                         "task": {"cascade": ["smoke"]}, "llm": {"models": [MODEL]}, **extra})


def test_prompt_estimate_is_built_from_the_real_messages():
    code = seed_source("bm25_rag")
    edit = prompt_tokens(config([{"name": "llm_edit"}]), code)
    # the system prompt alone (contract + component catalogue) and the parent with two inspirations
    assert edit > len(prompts.system_prompt(False)) // 4 + 3 * len(code) // 4
    bare = prompt_tokens(config([{"name": "llm_edit", "params": {"components": False}}]), code)
    assert bare < edit - 1000  # the catalogue is most of the system prompt
    both = prompt_tokens(config([{"name": "llm_edit"}, {"name": "crossover", "weight": 3}]), code)
    assert both != edit
    assert prompt_tokens(config([{"name": "structural"}]), code) == 0


def test_smoke_timing_uses_the_configured_backend():
    cfg = config([{"name": "llm_edit"}], sandbox={"backend": "forkserver"}, budget={"evaluations": 11})
    est = estimate(cfg, seed_source("bm25_rag"))
    assert est.seconds_per_candidate > 0 and est.llm_calls == 15.0
    per_call = (prompt_tokens(cfg, seed_source("bm25_rag")) + 700) / 1e6
    assert abs(est.llm_dollars - 15 * per_call) < 1e-9
