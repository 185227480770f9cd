"""Config errors name the key; the CLI turns them into one line and exit code 2."""
import subprocess
import sys
from pathlib import Path

import pytest

from evolve.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("data,expected", [
    ({"name": "x", "budgett": {}}, "unknown key 'budgett'"),
    ({"name": "x", "budget": {"evaluatons": 3}}, "unknown key 'budget.evaluatons'"),
    ({"name": "x", "parallel": 0}, "bad value for 'parallel'"),
    ({"name": "x", "objectives": [{"metric": "recall", "direction": "upwards"}]}, "'objectives.0.direction'"),
    ({"name": "x", "task": {"cascade": ["full", "smoke"]}}, "'task.cascade'"),
    ({"name": "bad name!"}, "'name'"),
    ({}, "missing key 'name'"),
])
def test_bad_configs_name_the_key(data, expected):
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        parse_config(data)


def test_yaml_errors(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(p)
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.yaml")


def test_quickstart_config_loads():
    cfg = load_config("examples/quickstart.yaml")
    assert cfg.name == "quickstart" and cfg.budget.evaluations >= 10


def test_the_deep_locomo_example_is_the_measured_pruned_mix_judged_on_the_whole_split():
    """examples/locomo-deep.yaml is what BENCHMARKS measured as `memarch+pruned` with a last stage `full`."""
    import importlib.util

    from evolve.operators import OperatorDeps, build_operators

    spec = importlib.util.spec_from_file_location("search_efficiency", ROOT / "bench" / "search_efficiency.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    cfg = load_config(ROOT / "examples" / "locomo-deep.yaml")
    assert [{"name": o.name, "weight": o.weight, **({"params": o.params} if o.params else {})} for o in cfg.operators] \
        == bench.ABLATIONS["memarch+pruned"]
    assert cfg.task.cascade[-1] == "full" and cfg.task.holdout is not None and cfg.seeds == bench.SEEDS
    deps = OperatorDeps(objectives=[(o.metric, o.direction) for o in cfg.objectives], token_budget=256,
                        evaluations=cfg.budget.evaluations)
    ops = dict((op.name, op) for op, _w in build_operators(cfg.operators, deps))
    assert ops["compose"].screen and ops["compose"].screen_prune and ops["compose"].screen_rounds == 5


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "evolve.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_cli_bad_config_is_one_line_exit_2(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("name: x\nseeds: [bm25_rag]\nbudget: {evaluations: 2, walltime: 3}\n")
    r = run_cli("run", str(p), "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path)
    assert r.returncode == 2
    assert "unknown key 'budget.walltime'" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert not (tmp_path / "runs" / "x").exists()


def test_cli_unknown_seed_and_task_param(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("name: x\nseeds: [no_such_seed]\n")
    r = run_cli("run", str(p), "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path)
    assert r.returncode == 2 and "no_such_seed" in r.stderr
    p.write_text("name: x\ntask: {name: synthetic, params: {conversationz: 3}}\n")
    r = run_cli("run", str(p), "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path)
    assert r.returncode == 2 and "conversationz" in r.stderr


def test_real_text_tasks_default_to_the_static_embedder_and_the_preflight_says_so():
    from evolve.config import static_embedder_installed
    from evolve.preflight import Estimate

    assert static_embedder_installed()  # memarch[test] pulls memarch[embed]
    for task in ("locomo", "longmemeval"):
        cfg = parse_config({"name": "e", "task": {"name": task}})
        assert cfg.task.embedder == "static"
        assert "embedder static" in Estimate(1.0, 10.0, 0.0, 0.0).render(cfg)
    chosen = parse_config({"name": "e", "task": {"name": "locomo", "embedder": "hashing"}})
    assert chosen.task.embedder == "hashing"  # an explicit choice stands, and the pre-flight warns
    assert "dense components will look weak" in Estimate(1.0, 10.0, 0.0, 0.0).render(chosen)
    assert parse_config({"name": "e", "task": {"name": "synthetic"}}).task.embedder == "hashing"
