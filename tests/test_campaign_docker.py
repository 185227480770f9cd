"""A campaign whose evaluations run in Docker containers, placed by Ray on a node that
advertises the `docker` resource. In CI a missing engine fails; elsewhere it skips."""
import pytest

from evolve.campaign import Campaign
from evolve.config import parse_config
from sandbox_fixtures import docker_client

import ray  # noqa: E402 - a required dependency: a broken install must fail, not skip
pytestmark = pytest.mark.docker


def test_campaign_on_docker_backend(tmp_path):
    client = docker_client()
    cfg = parse_config({
        "name": "dock", "seed": 2,
        "task": {"name": "synthetic", "params": {"conversations": 1}, "cascade": ["smoke"]},
        "seeds": ["bm25_rag"], "budget": {"evaluations": 4}, "parallel": 2,
        "sandbox": {"backend": "docker", "options": {"cpus": 1.0}},
    })
    campaign = Campaign.create(cfg, tmp_path / "runs")
    try:
        assert campaign.run() == "evaluation budget spent"
    finally:
        ray.shutdown()
    evs = campaign.store.evaluations("smoke")
    assert len(evs) == 4 and all(e.status == "ok" for e in evs), [e.error for e in evs]
    left = client.containers.list(all=True, filters={"label": "memarch.campaign=dock"})
    assert left == []


def test_unknown_backend_option_is_a_config_error(tmp_path):
    from evolve.config import ConfigError

    cfg = parse_config({"name": "x", "sandbox": {"backend": "process", "options": {"bwarp": True}}})
    with pytest.raises(ConfigError, match="sandbox.options"):
        Campaign.create(cfg, tmp_path / "runs")
    assert not (tmp_path / "runs" / "x").exists()
