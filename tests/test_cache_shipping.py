"""The embedding cache reaches a node that cannot read the driver's cache path, through Ray's
object store: unpacked once per node, then read by the sandbox like a local cache."""
import shutil


from design_space.seeds import seed_source
from evolve.cache_shipping import node_dir, pack
from evolve.evaluate import RayEvaluator
from sandboxes.backends.process import ProcessSandbox
from sandboxes.embed_cache import build, embedder_dir
from sandboxes.job import Job, Limits
from sandboxes.tasks import get_task

PARAMS = {"conversations": 1}



def _cache(tmp_path):
    """A cache of its own: a marker file named after this test's directory makes its digest, and so
    the node directory it unpacks into, unique, so a test suite running beside this one on the same
    machine never creates or removes it (the cache reader reads only its shards)."""
    root = tmp_path / "cache"
    build(get_task("synthetic").build(PARAMS, "smoke", 0).episodes, "hashing", root)
    (embedder_dir(root, "hashing") / "origin.txt").write_text(str(tmp_path))
    return root


def _job(cache: str) -> Job:
    return Job(program=seed_source("dense_rag"), task="synthetic", task_params=PARAMS, fidelity="smoke",
               limits=Limits(wall_seconds=60), embedder="hashing", embed_cache=cache, validated=True)


def test_a_node_without_the_cache_path_gets_it_from_the_object_store(tmp_path, local_ray):
    root = _cache(tmp_path)
    packed = pack(str(root), "hashing")
    assert packed is not None and packed.files
    local = node_dir(packed.digest)
    shutil.rmtree(local, ignore_errors=True)
    expected = ProcessSandbox().run(_job(str(root)))
    assert expected.status == "ok", expected.error

    evaluator = RayEvaluator("process")
    evaluator.ship_cache(str(root), "hashing")
    # the driver's path does not exist on the worker's node (no shared filesystem)
    for k in range(2):
        evaluator.submit(k, _job(str(tmp_path / "driver-only" / "cache")))
    results = []
    while len(evaluator):
        results += evaluator.wait(timeout=60)
    try:
        assert [r.status for _t, r in results] == ["ok", "ok"], [r.error for _t, r in results]
        assert all(r.metrics["recall"] == expected.metrics["recall"] for _t, r in results)
        assert sorted(str(p.relative_to(local)) for p in local.rglob("*") if p.is_file()) == sorted(packed.files)
    finally:
        shutil.rmtree(local, ignore_errors=True)


def test_a_node_that_reads_the_cache_path_uses_it_as_is(tmp_path, local_ray):
    root = _cache(tmp_path)
    packed = pack(str(root), "hashing")
    shutil.rmtree(node_dir(packed.digest), ignore_errors=True)
    evaluator = RayEvaluator("process")
    evaluator.ship_cache(str(root), "hashing")
    evaluator.submit("one", _job(str(root)))
    (_tag, result), = evaluator.wait(timeout=60)
    assert result.status == "ok", result.error
    assert not node_dir(packed.digest).exists()  # nothing unpacked: the path was readable here


def test_nothing_is_shipped_without_a_cache(tmp_path):
    assert pack(str(tmp_path / "absent"), "hashing") is None
    assert pack("", "hashing") is None
