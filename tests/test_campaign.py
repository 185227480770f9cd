"""A small campaign on real local Ray: seeds that crash or hang do not stop it; it yields a
front, lineage edges with operators, and exports that import and validate."""
import importlib.util
import os
import subprocess
import sys

import pytest

from design_space.validate import validate_source
from evolve.campaign import Campaign
from evolve.config import parse_config
from evolve.export import export_candidate
from evolve.views import front_rows, lineage_edges

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

BODY = '''
from design_space import MemoryProgram, Recall
class Memory(MemoryProgram):
    def encode(self, event): return [event]
    def store(self, records): pass
    def manage(self, signal): pass
    def retrieve(self, query):
'''



def test_a_campaign_whose_seeds_all_fail_says_so_and_spends_nothing_more(tmp_path, local_ray):
    (tmp_path / "crash.py").write_text(BODY + "        raise RuntimeError('seed crash')\n")
    cfg = parse_config({
        "name": "dead", "seed": 1, "task": {"name": "synthetic", "params": {"conversations": 2}, "cascade": ["smoke"]},
        "seeds": ["crash.py"], "budget": {"evaluations": 10}, "parallel": 1})
    campaign = Campaign.create(cfg, tmp_path / "runs", config_dir=tmp_path)
    reason = campaign.run()
    assert reason == "nothing to breed from: none of 1 candidates reached the archive (each failed a stage or scored nothing)"
    assert campaign.store.count_candidates() == 1


def test_ten_evaluation_campaign(tmp_path, local_ray):
    (tmp_path / "crash.py").write_text(BODY + "        raise RuntimeError('seed crash')\n")
    (tmp_path / "hang.py").write_text(BODY + "        while True:\n            pass\n")
    cfg = parse_config({
        "name": "t10", "seed": 3,
        "task": {"name": "synthetic", "params": {"conversations": 2}, "cascade": ["smoke", "full"]},
        "seeds": ["bm25_rag", "recency_window", "crash.py", "hang.py"],
        "budget": {"evaluations": 10}, "parallel": 2,
        # room for the good seeds on a loaded machine: at 4 s they too could time out, leave nothing to
        # breed from, and end the campaign early; the hanging seed still times out
        "sandbox": {"limits": {"wall_seconds": 10}},
    })
    campaign = Campaign.create(cfg, tmp_path / "runs", config_dir=tmp_path)
    assert campaign.run() == "evaluation budget spent"
    store = campaign.store
    assert store.count_candidates() == 10
    statuses = {e.candidate_id: e.status for e in store.evaluations("smoke")}
    assert statuses["c0003"] == "crashed" and statuses["c0004"] == "timeout"
    _, archive, rows = front_rows(store)
    assert len(archive) >= 6  # the two good seeds and most children reach the full stage
    front = [r for r in rows if r["rank"] == 0]
    assert front and all(r["recall"] > 0 for r in front)
    edges = lineage_edges(store)
    assert len(edges) == 6 and all(op == "structural" for _p, _c, op in edges)
    # parents are candidates that finished every stage, never the crashing or hanging seeds, and older than the child
    assert all(p in archive.metrics and p < c for p, c, _op in edges)
    assert not {p for p, _c, _op in edges} & {"c0003", "c0004"}
    # every evaluated child differs from its parent and says how
    for cand in store.candidates()[4:]:
        assert cand.note and cand.code != store.candidate(cand.parents[0]).code
    # exported front member imports and validates
    out = export_candidate(store, front[0]["id"], tmp_path / "best.py")
    code = out.read_text()
    assert validate_source(code) == []
    spec = importlib.util.spec_from_file_location("best", out)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["best"] = mod
    spec.loader.exec_module(mod)
    from design_space.kit import Kit
    from design_space import Event, Query
    mem = mod.Memory(Kit())
    mem.store(mem.encode(Event(id="e1", text="Anna lives in Lisbon")))
    recall = mem.retrieve(Query(id="q", text="Where does Anna live?", budget_tokens=64))
    assert recall.items[0].source_ids == ("e1",)


def test_cli_quickstart_end_to_end(tmp_path):
    """The README's first command, shortened: progress, a front, lineage and export via the CLI."""
    cfg = tmp_path / "q.yaml"
    # the evaluation count ends the run, not the wall clock: a loaded machine must not cut it short
    cfg.write_text(open("examples/quickstart.yaml").read().replace("evaluations: 40", "evaluations: 12")
                   .replace("wall_seconds: 170", "wall_seconds: 1200"))
    env = {**os.environ, "COLUMNS": "200"}
    r = subprocess.run([sys.executable, "-m", "evolve.cli", "run", str(cfg), "--runs-dir", str(tmp_path / "runs")],
                       capture_output=True, text=True, timeout=1300, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "front of quickstart" in r.stdout and "12/12" in r.stdout
    r2 = subprocess.run([sys.executable, "-m", "evolve.cli", "lineage", "quickstart", "--runs-dir",
                         str(tmp_path / "runs")], capture_output=True, text=True, timeout=60, env=env)
    assert r2.returncode == 0 and "seed:bm25_rag" in r2.stdout and "structural" in r2.stdout


def test_offline_operators_islands_and_wall_budget(tmp_path, local_ray):
    cfg = parse_config({
        "name": "mix", "seed": 5,
        "task": {"name": "synthetic", "params": {"conversations": 2}, "cascade": ["smoke", "subset", "full"]},
        "seeds": ["bm25_rag", "dense_rag"],
        "operators": [{"name": "structural", "weight": 1.0}, {"name": "tune", "weight": 1.0}],
        "selection": {"strategy": "coverage", "islands": 2, "migration_interval": 4},
        "budget": {"evaluations": 14}, "parallel": 2, "reproducible": True,  # migration timing-free
    })
    campaign = Campaign.create(cfg, tmp_path / "runs")
    assert campaign.run() == "evaluation budget spent"
    store = campaign.store
    ops = {c.operator for c in store.candidates()}
    assert {"structural", "tune"} <= ops
    cands = store.candidates()
    islands = {c.meta.get("island") for c in cands if c.parents}
    assert islands == {0, 1}
    proposals = [d for _t, _k, d in store.events("propose")]
    assert len(proposals) >= 12
    # coverage selection ran: once instance results exist, parents come from per-item winners
    assert all(p["selection"] == "coverage" for p in proposals[2:]), [p["selection"] for p in proposals]
    # ring migration: each island holds front members born on the other one, named by `migrate` events
    born = {c.id: c.meta.get("island") for c in cands if c.parents}
    moves = [d for _t, _k, d in store.events("migrate")]
    assert moves and all(born.get(c, d["into"]) != d["into"] for d in moves for c in d["ids"])
    for island in (0, 1):
        members = set(campaign.islands[island].ids())
        assert {c for c in members if born.get(c) == 1 - island}, f"nothing migrated into island {island}"
    # a resumed campaign rebuilds the same islands from the store
    again = Campaign(cfg, campaign.run_dir, store)
    assert [sorted(a.ids()) for a in again.islands] == [sorted(a.ids()) for a in campaign.islands]
    # the cascade ran every stage for candidates that reached the end
    _, archive, _ = front_rows(store)
    for cid in archive.metrics:
        assert store.evaluation(cid, "smoke") and store.evaluation(cid, "subset")
    # wall-clock budgets count every session: a resumed campaign past its wall budget makes nothing new
    before = store.count_candidates()
    spent = float(store.meta("elapsed_s"))
    budget = cfg.budget.model_copy(update={"evaluations": 40, "wall_seconds": spent * 0.5})
    resumed = Campaign(cfg.model_copy(update={"budget": budget}), campaign.run_dir, store)
    assert resumed.run().startswith("wall-clock budget")
    assert store.count_candidates() == before


@pytest.mark.slow
def test_model_embeddings_are_computed_once_per_campaign(tmp_path, local_ray, monkeypatch):
    monkeypatch.setenv("MEMARCH_CACHE", str(tmp_path / "cache"))
    cfg = parse_config({
        "name": "emb", "seed": 1,
        "task": {"name": "synthetic", "params": {"conversations": 2}, "cascade": ["smoke", "full"],
                 "embedder": "static"},
        "seeds": ["dense_rag"], "budget": {"evaluations": 3}, "parallel": 1,
    })
    campaign = Campaign.create(cfg, tmp_path / "runs")
    campaign.run()
    assert (tmp_path / "cache" / "embeddings" / "static").is_dir()
    evs = [e for e in campaign.store.evaluations() if e.status == "ok"]
    assert evs and all(e.metrics["recall"] > 0 for e in evs)
    # a second campaign over the same texts computes nothing new
    logs = []
    from evolve.campaign import Progress
    again = Campaign.create(cfg.model_copy(update={"name": "emb2"}), tmp_path / "runs",
                            progress=Progress(on_log=logs.append))
    again.run()
    assert not any("embedded" in m for m in logs)


def test_stop_file_ends_a_running_campaign(tmp_path, local_ray):
    from evolve.campaign import Progress

    cfg = parse_config({"name": "stopme", "seed": 4, "task": {"params": {"conversations": 1}, "cascade": ["smoke"]},
                        "seeds": ["bm25_rag"], "budget": {"evaluations": 30}, "parallel": 1})
    campaign = Campaign.create(cfg, tmp_path / "runs")
    campaign.progress = Progress(on_done=lambda cid, outcome: (campaign.run_dir / "STOP").touch()
                                 if cid == "c0003" else None)
    assert campaign.run().startswith("stop file")
    assert 3 <= campaign.store.count_candidates() < 30


def test_preflight_estimates_time_and_llm_dollars():
    from design_space.seeds import seed_source
    from evolve.preflight import estimate

    def config(evaluations: int, llm_weight: float, price: float = 1.0, parallel: int = 2):
        return parse_config({
            "name": "pf", "task": {"cascade": ["smoke", "full"]}, "budget": {"evaluations": evaluations},
            "seeds": ["bm25_rag"], "parallel": parallel,
            "operators": [{"name": "llm_edit", "weight": llm_weight}, {"name": "structural", "weight": 1.0}],
            "llm": {"models": [{"model": "openai/local", "api_base": "http://127.0.0.1:9/v1",
                                "price_in": price, "price_out": 2 * price}]}})

    code = seed_source("bm25_rag")
    base = estimate(config(21, 1.0), code)
    assert base.seconds_per_candidate > 0 and base.llm_calls > 0 and base.llm_dollars > 0
    # time: every candidate pays the smoke and the (bigger) full stage, spread over the evaluations in flight
    assert base.wall_seconds == pytest.approx(base.seconds_per_candidate * 21 / 2)
    serial = estimate(config(21, 1.0, parallel=1), code)
    assert serial.wall_seconds / serial.seconds_per_candidate == pytest.approx(21)
    # LLM calls come only from children (seeds are free) made by LLM operators
    assert estimate(config(1, 1.0), code).llm_calls == 0
    assert estimate(config(41, 1.0), code).llm_calls == pytest.approx(2 * base.llm_calls)
    assert estimate(config(21, 3.0), code).llm_calls == pytest.approx(1.5 * base.llm_calls)  # 3/4 vs 1/2 LLM-made
    # dollars follow the configured prices, and the rendering says what was estimated
    assert estimate(config(21, 1.0, price=3.0), code).llm_dollars == pytest.approx(3 * base.llm_dollars)
    per_call = base.llm_dollars / base.llm_calls
    assert per_call > len(code) / 4 * 1.0 / 1e6  # at least the program itself goes into each prompt
    assert f"LLM ~{base.llm_calls:.0f} calls" in base.render(config(21, 1.0))
