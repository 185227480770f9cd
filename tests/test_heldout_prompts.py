"""No gold of the held-out split ever reaches an LLM prompt.

A LoCoMo campaign with `llm_edit` and `crossover` runs against a real OpenAI-compatible server
on 127.0.0.1 (through litellm), with the task's default splits: it searches on `search` and
measures its front on `test`. Afterwards every prompt the server received, and every prompt the
store recorded, is scanned for any question, gold-evidence text or answer of the test split.
The scan itself is checked: a prompt built from the held-out evaluation's failures is caught.
"""
from __future__ import annotations

import os
import random
import re

import pytest

from data_paths import need
from evolve.campaign import Campaign
from evolve.config import ConfigError, parse_config, with_split_defaults
from evolve.operators.base import CandidateView, OperatorContext
from evolve.operators.prompts import edit_messages
from sandboxes.tasks import get_task

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

KNOB = re.compile(r"^([A-Z][A-Z0-9_]*) = (\d+)\b.*$", re.MULTILINE)
MIN_CHARS = 12  # shorter strings ("Yes", "2022") occur by chance in any program text


def scripted(body: dict) -> dict:
    """A model that always answers usably: bump one integer knob (edit), or double it (merge)."""
    prompt = body["messages"][1]["content"]
    if "## Program A" in prompt:
        code = re.search(r"## Program A \(\w+\)\n```python\n(.*?)\n```", prompt, re.DOTALL).group(1)
        name, value = KNOB.search(code).groups()
        merged = code.replace(KNOB.search(code).group(0), f"{name} = {int(value) * 2}", 1)
        return {"content": f"```python\n{merged}\n```\nNOTE: merged, {name} doubled"}
    code = re.search(r"## Current program \(\w+\)\n```python\n(.*?)\n```", prompt, re.DOTALL).group(1)
    line = KNOB.search(code).group(0)
    name, value = KNOB.search(code).groups()
    bump = 1 + len(body["messages"]) + random.Random(prompt).randrange(7)
    return {"content": f"<<<<<<< SEARCH\n{line}\n=======\n{name} = {int(value) + bump}\n>>>>>>> REPLACE\n"
                       f"NOTE: {name} raised"}


def held_out_strings(params: dict, seed: int) -> set[str]:
    """Questions, answers and gold-evidence texts of the test split, less anything the search split
    shows a program anyway (LoCoMo splits by question: the conversations are shared)."""
    task = get_task("locomo")
    test = task.build({**params, "split": "test"}, "full", seed)
    search = task.build({**params, "split": "search"}, "full", seed)
    public = set(search.query_text.values()) | set(search.event_text.values()) | {g.answer for g in search.gold.values()}
    out = set(test.query_text.values()) | {g.answer for g in test.gold.values()}
    out |= {test.event_text.get(e, "") for g in test.gold.values() for e in g.evidence}
    shown = "\n".join(public)  # an answer quoted inside a search-side turn is no leak of the test split
    return {s for s in out if len(s) >= MIN_CHARS and s not in shown}


def leaks(prompts: list[str], secrets: set[str]) -> list[str]:
    return sorted({s for s in secrets for p in prompts if s in p})



def test_no_held_out_question_evidence_or_answer_reaches_a_prompt(openai_server, tmp_path, local_ray):
    path = str(need("locomo"))
    server = openai_server(scripted)
    cfg = parse_config({
        "name": "heldout", "seed": 3,
        "task": {"name": "locomo", "params": {"path": path, "budget_tokens": 128}, "cascade": ["smoke"]},
        "seeds": ["bm25_rag", "dense_rag"],
        "operators": [{"name": "llm_edit", "weight": 2}, {"name": "crossover", "weight": 1}],
        "llm": {"models": [{"model": "openai/coder", "api_base": server.base_url}], "max_fix_attempts": 1},
        "budget": {"evaluations": 8}, "parallel": 1,
        "sandbox": {"limits": {"wall_seconds": 60}},
    })
    campaign = Campaign.create(cfg, tmp_path / "runs")
    # the defaults of a task with splits: search on `search`, hold out `test`
    assert campaign.config.task.params["split"] == "search" and campaign.config.task.holdout == {"split": "test"}
    campaign.run()
    store = campaign.store
    ops = {c.operator for c in store.candidates()}
    assert {"llm_edit", "crossover"} <= ops, ops
    held = store.evaluations("holdout")
    assert held and any(e.failures for e in held)  # the front was measured on test, with failures

    secrets = held_out_strings({"path": path, "budget_tokens": 128}, cfg.seed)
    assert len(secrets) > 100
    sent = [m["content"] for body in server.requests for m in body["messages"]]
    recorded = [r["request"] for r in store.conn.execute("SELECT request FROM llm_calls")]
    assert sent and len(recorded) == len(server.requests)
    assert any("needed evidence" in p for p in sent)  # failures with gold were shown: from `search`
    assert leaks(sent, secrets) == []
    assert leaks(recorded, secrets) == []

    # the scan finds gold when it is there: a prompt from the held-out evaluation's failures
    ev = next(e for e in held if e.failures)
    view = CandidateView(id=ev.candidate_id, code=store.candidate(ev.candidate_id).code, metrics=ev.metrics,
                         failures=ev.failures)
    leaked = edit_messages(OperatorContext(parents=[view], rng=random.Random(0)), full_rewrite=False)
    assert leaks([m["content"] for m in leaked], secrets)
    # and the campaign's own view of that candidate hides them
    assert campaign._searchable(ev.failures) == []


@pytest.mark.parametrize("task, expected", [
    ({"name": "locomo"}, ({"split": "search"}, {"split": "test"})),
    ({"name": "banking77", "params": {"budget_tokens": 64}}, ({"split": "search", "budget_tokens": 64},
                                                            {"split": "test"})),
    ({"name": "locomo", "params": {"split": "test"}}, ({"split": "test"}, None)),  # an explicit evaluation
    ({"name": "locomo", "holdout": None}, ({"split": "search"}, None)),  # holdout switched off
    ({"name": "synthetic"}, ({}, None)),  # no splits
])
def test_split_defaults(task, expected):
    cfg = with_split_defaults(parse_config({"name": "x", "task": task}))
    assert (cfg.task.params, cfg.task.holdout) == expected


@pytest.mark.parametrize("task", [{"name": "locomo", "params": {"split": "all"}, "holdout": {"split": "test"}},
                                  {"name": "babi", "params": {"split": "test"}, "holdout": {"split": "test"}}])
def test_a_search_split_holding_the_held_out_data_is_refused(task):
    with pytest.raises(ConfigError, match="overlaps the held-out split"):
        with_split_defaults(parse_config({"name": "x", "task": task}))


@pytest.mark.parametrize("holdout_fidelity", [None, "subset"])
def test_the_held_out_measurement_runs_at_holdout_fidelity(holdout_fidelity, tmp_path, local_ray):
    """A search at `smoke` measures its front on the test split's smoke sample, unless
    `task.holdout_fidelity` asks for more of it: then every held-out number covers that many questions."""
    path = str(need("locomo"))
    task = {"name": "locomo", "params": {"path": path, "budget_tokens": 128}, "cascade": ["smoke"]}
    if holdout_fidelity:
        task["holdout_fidelity"] = holdout_fidelity
    cfg = parse_config({"name": f"hf-{holdout_fidelity}", "seed": 1, "task": task, "seeds": ["bm25_rag"],
                        "operators": [{"name": "structural", "weight": 1}], "budget": {"evaluations": 3},
                        "parallel": 1, "sandbox": {"limits": {"wall_seconds": 120}}})
    campaign = Campaign.create(cfg, tmp_path / "runs")
    campaign.run()
    held = campaign.store.evaluations("holdout")
    test = {f: len(get_task("locomo").build({"path": path, "budget_tokens": 128, "split": "test"}, f, 1).gold)
            for f in ("smoke", "subset")}
    assert test["subset"] > test["smoke"]
    assert held and {e.metrics["queries"] for e in held} == {test[holdout_fidelity or "smoke"]}


def test_an_unknown_holdout_fidelity_is_refused():
    with pytest.raises(ConfigError, match="holdout_fidelity"):
        parse_config({"name": "x", "task": {"name": "locomo", "holdout_fidelity": "most"}})
