"""How the campaign driver's pace holds up as a campaign grows.

A campaign of trivial evaluations (synthetic task, smoke fidelity, one tiny conversation,
`structural` operator, forkserver sandbox, `parallel: 2`) runs to each size in `--sizes`.
For each size: candidates/s per window of the run, driver CPU per candidate, driver peak RSS,
and the ratio to the bare sandbox's rate (a no-op job, two at a time) measured in the same run.

Targets on 2 cores: >= 20 candidates/s sustained; the rate over the last 1,000 of 20,000
candidates >= 0.8x the rate over the first 1,000; driver RSS under 1 GB at 20,000. Per window it
also prints the driver's CPU per candidate and the jobs' own CPU: the programs a structural search
makes grow (components are inserted), so the rate's last/first mixes the engine's cost with theirs.

A probe in the bench's own process times a fixed piece of interpreter work every 2 s: on a shared
VM the same work's CPU time drifts by tens of percent within minutes, so each window also shows
the probe's median, and last/first is also given at the first window's machine pace.

Scale-out (``--cluster``): a simulated Ray cluster (``ray.cluster_utils.Cluster``, default 4 nodes
of 4 logical CPUs) runs a campaign whose programs spend a fixed wall time per evaluation (0.5 s);
throughput is compared with the ideal (slots / evaluation time), and one worker node is removed
halfway: no finished evaluation may be lost and in-flight ones are retried elsewhere.

Run: ``python bench/engine_throughput.py [--sizes 100 1000 5000 20000] [--cluster]``. Each size runs in a
fresh driver process (so peak RSS is that size's). Prints a table, writes
bench/results/engine_throughput.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TINY = {"conversations": 1}
TARGET_RATE = 20.0


def bare_rate(seconds: float = 5.0) -> float:
    """No-op jobs per second through the forkserver, two at a time (what the sandbox alone allows)."""
    from sandboxes.backends import get_sandbox
    from sandboxes.job import Job, Limits

    noop = ("from design_space import MemoryProgram, Recall\n\nclass Memory(MemoryProgram):\n"
            "    def encode(self, event):\n        return []\n    def store(self, records):\n        pass\n"
            "    def retrieve(self, query):\n        return Recall(())\n    def manage(self, signal):\n        pass\n")
    box = get_sandbox("forkserver")
    job = Job(program=noop, task="synthetic", task_params=TINY, fidelity="smoke", limits=Limits(wall_seconds=60))
    box.run(job)  # warm
    done = [0]
    stop = time.monotonic() + seconds

    def worker() -> None:
        while time.monotonic() < stop:
            box.run(job, validate=False)
            done[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(2)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done[0] / (time.monotonic() - t0)


ROLES = (("sandbox jobs", None), ("fork servers", "sandboxes.backends.forkserver"), ("ray workers", "ray::"),
         ("ray daemons", "raylet"), ("ray daemons", "gcs_server"), ("ray daemons", "ray/"))
TICK = os.sysconf("SC_CLK_TCK")


class CpuByRole:
    """CPU seconds of the driver's process tree by role, from /proc, sampled twice a second.

    A process's last sample counts (one that ends between samples loses under 0.5 s of CPU);
    a fork server's reaped children (the sandboxed jobs) are its cumulative child time.
    """

    def __init__(self) -> None:
        self.last: dict[int, tuple[str, float]] = {}
        self.me = os.getpid()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self.sample()

    def sample(self) -> None:
        procs = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == self.me:
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    procs[int(entry)] = (cmd, fh.read().rsplit(b")", 1)[1].split())
            except OSError:
                continue
        for pid, (cmd, fields) in procs.items():
            ancestor, hops = int(fields[1]), 0
            while ancestor in procs and hops < 16:  # only this driver's tree, not another campaign's
                ancestor, hops = int(procs[ancestor][1][1]), hops + 1
            if ancestor != self.me:
                continue
            utime, stime, cutime, cstime = (int(x) / TICK for x in fields[11:15])
            entry = str(pid)
            for role, mark in ROLES[1:]:
                if mark in cmd:
                    self.last[int(entry)] = (role, utime + stime)
                    if role == "fork servers":
                        self.last[-int(entry)] = ("sandbox jobs", cutime + cstime)
                    break

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        totals: dict[str, float] = {}
        for role, cpu in self.last.values():
            totals[role] = totals.get(role, 0.0) + cpu
        return totals


def one_campaign(size: int, out: Path) -> None:
    """Run in a child process: one campaign of `size` candidates; writes its measurements to `out`."""
    from evolve.campaign import Campaign, Progress
    from evolve.config import parse_config

    cfg = parse_config({
        "name": f"engine{size}", "seed": 1,
        "task": {"name": "synthetic", "params": TINY, "cascade": ["smoke"]},
        "seeds": ["bm25_rag", "recency_window", "dense_rag"],
        "operators": [{"name": "structural", "weight": 1.0}],
        "budget": {"evaluations": size}, "parallel": 2,
        "sandbox": {"backend": "forkserver"},
    })
    runs = Path(tempfile.mkdtemp(prefix="memarch-engine-"))
    cpu_at_done: list[float] = []  # the driver's CPU as each candidate ends (per-window engine cost)
    campaign = Campaign.create(cfg, runs, progress=Progress(
        on_done=lambda cid, outcome: cpu_at_done.append(time.process_time())))
    roles = CpuByRole()
    cpu0 = time.process_time()
    t0 = time.monotonic()
    campaign.run()
    wall = time.monotonic() - t0
    cpu = time.process_time() - cpu0
    by_role = {"driver": cpu, **roles.stop()}
    done = sorted(t for t, _k, _d in campaign.store.events("done"))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # each job's own CPU, in the order they finished: the programs the search makes grow heavier
    job_cpu = [json.loads(r[0]).get("cpu_s", 0.0) for r in campaign.store.conn.execute(
        "SELECT resources FROM evaluations ORDER BY finished_at")]
    out.write_text(json.dumps({"size": size, "done_times": done, "wall_s": wall, "driver_cpu_s": cpu,
                               "driver_rss_mb": rss_mb, "candidates": campaign.store.count_candidates(),
                               "cpu_by_role": by_role, "cpu_at_done": cpu_at_done, "job_cpu": job_cpu}))


SLEEPER = '''
"""A program that spends a fixed wall time per evaluation (its first recall sleeps), for the scale-out simulation."""
import time

from design_space import MemoryProgram, Recall, RecallItem

TOP_K = 5
WINDOW = 10
SCALE = 1.0
_SLEEP_S = {sleep}


class Memory(MemoryProgram):
    def __init__(self, kit):
        super().__init__(kit)
        self.turns = []
        self.slept = False

    def encode(self, event):
        return [event]

    def store(self, records):
        self.turns.extend(records)

    def retrieve(self, query):
        if not self.slept:
            time.sleep(_SLEEP_S)
            self.slept = True
        recent = self.turns[-max(1, int(WINDOW)):][-max(1, int(TOP_K)):]
        return Recall(tuple(RecallItem(e.text, (e.id,), float(SCALE)) for e in recent))

    def manage(self, signal):
        pass
'''


def cluster_run(nodes: int, cpus: int, sleep: float, evaluations: int, remove_at: int) -> dict:
    """A campaign on a simulated cluster (ray.cluster_utils.Cluster) whose evaluations each take `sleep` s;
    one worker node is removed after `remove_at` candidates finished."""
    import ray
    from ray.cluster_utils import Cluster

    from evolve.campaign import Campaign, Progress
    from evolve.config import parse_config

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": cpus, "include_dashboard": False})
    workers = [cluster.add_node(num_cpus=cpus) for _ in range(nodes - 1)]
    cluster.wait_for_nodes()
    tmp = Path(tempfile.mkdtemp(prefix="memarch-cluster-"))
    (tmp / "sleeper.py").write_text(SLEEPER.format(sleep=sleep))
    slots = nodes * cpus
    cfg = parse_config({
        "name": "cluster", "seed": 1,
        "task": {"name": "synthetic", "params": TINY, "cascade": ["smoke"]},
        "seeds": ["sleeper.py"], "operators": [{"name": "structural", "weight": 1.0}],
        "budget": {"evaluations": evaluations}, "parallel": slots,
        # children made ahead wait for a slot, so a freed slot restarts without waiting on a proposal
        "parallel_proposals": 2 * slots,
        "sandbox": {"backend": "forkserver"}, "ray": {"address": cluster.address},
    })
    removed: list[float] = []
    finished = [0]

    def on_done(cid: str, outcome: str) -> None:
        finished[0] += 1
        if finished[0] == remove_at and workers:
            removed.append(time.time())
            threading.Thread(target=cluster.remove_node, args=(workers[-1],), daemon=True).start()

    campaign = Campaign.create(cfg, tmp / "runs", config_dir=tmp, progress=Progress(on_done=on_done))
    try:
        campaign.run()
    finally:
        ray.shutdown()
        cluster.shutdown()
    store = campaign.store
    done = sorted(t for t, _k, _d in store.events("done"))
    evals = store.evaluations("smoke")
    lost = [e.candidate_id for e in evals if "infrastructure" in e.error]
    # steady state: from the first slots' worth of results to the node removal (all nodes up)
    lo = min(slots, len(done) - 1)
    hi = next((k for k, t in enumerate(done) if removed and t >= removed[0]), len(done) - 1)
    rate = (hi - lo) / (done[hi] - done[lo]) if hi > lo and done[hi] > done[lo] else 0.0
    ideal = slots / sleep
    return {"nodes": nodes, "cpus_per_node": cpus, "slots": slots, "eval_seconds": sleep,
            "candidates": store.count_candidates(), "evaluated": len(evals),
            "ok": sum(e.status == "ok" for e in evals), "lost_to_infrastructure": lost,
            "rate": round(rate, 2), "ideal": round(ideal, 2), "of_ideal": round(rate / ideal, 3),
            "node_removed_after": remove_at if removed else None}


def _fixed_work() -> int:
    """A fixed piece of interpreter work (dicts, strings, ints), ~10-20 ms."""
    seen: dict[str, int] = {}
    for i in range(30_000):
        key = "w" + str(i % 997)
        seen[key] = seen.get(key, 0) + (i * i) % 7
    return sum(seen.values())


class SpeedProbe:
    """The machine's own pace beside the campaign: the CPU ms of `_fixed_work`, every `every` s.

    On a shared VM the same work's CPU time drifts by tens of percent within minutes (other
    tenants, clock frequency); a window's median probe says how much of a rate change is the
    machine's. It runs in the bench's parent process (otherwise idle) and costs <1 % of a core.
    """

    def __init__(self, every: float = 2.0) -> None:
        self.samples: list[tuple[float, float]] = []
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            c0 = time.thread_time()
            _fixed_work()
            self.samples.append((time.time(), 1000 * (time.thread_time() - c0)))

    def stop(self) -> list[tuple[float, float]]:
        self._stop.set()
        self._thread.join()
        return self.samples


def probe_ms(samples: list[tuple[float, float]], t0: float, t1: float) -> float:
    """Median probe CPU ms between two wall times (nan when none fell inside)."""
    inside = [ms for t, ms in samples if t0 <= t <= t1]
    return round(statistics.median(inside), 2) if inside else float("nan")


def _per(cpu_at_done: list[float], lo: int, hi: int) -> float:
    """Driver CPU ms per candidate between the lo-th and hi-th finished candidate."""
    if hi >= len(cpu_at_done) or hi <= lo:
        return float("nan")
    return round(1000 * (cpu_at_done[hi] - cpu_at_done[lo]) / (hi - lo), 2)


def windows(times: list[float], size: int) -> list[tuple[int, int, float]]:
    """(first, last, candidates/s) over consecutive windows of the finished candidates."""
    width = 100 if size <= 1000 else 1000
    out = []
    for lo in range(0, len(times) - 1, width):
        hi = min(len(times) - 1, lo + width)
        if hi - lo < width // 2 and out:
            break
        span = times[hi] - times[lo]
        out.append((lo, hi, (hi - lo) / span if span > 0 else float("inf")))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000, 20000])
    ap.add_argument("--cluster", action="store_true", help="also run the scale-out simulation")
    ap.add_argument("--cluster-only", action="store_true", help="run only the scale-out simulation")
    ap.add_argument("--nodes", type=int, default=4)
    ap.add_argument("--cpus-per-node", type=int, default=4)
    ap.add_argument("--eval-seconds", type=float, default=0.5)
    ap.add_argument("--cluster-evaluations", type=int, default=600)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        one_campaign(args.child, Path(args.out))
        return
    dest = ROOT / "bench" / "results" / "engine_throughput.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    cluster = None
    if args.cluster or args.cluster_only:
        cluster = cluster_run(args.nodes, args.cpus_per_node, args.eval_seconds, args.cluster_evaluations,
                              remove_at=args.cluster_evaluations // 2)
        print(f"scale-out: {cluster['nodes']} nodes x {cluster['cpus_per_node']} CPUs, evaluations of "
              f"{cluster['eval_seconds']} s: {cluster['rate']} candidates/s vs ideal {cluster['ideal']} "
              f"({cluster['of_ideal']:.2f} of ideal, target >= 0.9); {cluster['evaluated']} evaluated, "
              f"{cluster['ok']} ok, {len(cluster['lost_to_infrastructure'])} lost to the removed node "
              f"(removed after {cluster['node_removed_after']} finished)")
        if args.cluster_only:
            dest.write_text(json.dumps({"cluster": cluster}, indent=1))
            print(f"wrote {dest}")
            return
    bare = bare_rate()
    print(f"bare forkserver, no-op jobs two at a time: {bare:.1f} jobs/s")
    rows = []
    for size in args.sizes:
        out = Path(tempfile.mkstemp(suffix=".json")[1])
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
        probe = SpeedProbe()
        try:
            subprocess.run([sys.executable, __file__, "--child", str(size), "--out", str(out)], check=True, env=env)
        finally:
            samples = probe.stop()
        m = json.loads(out.read_text())
        times = m["done_times"]
        win = windows(times, size)
        rates = [r for _lo, _hi, r in win]
        probes = [probe_ms(samples, times[lo], times[hi]) for lo, hi, _r in win]
        # the last window's rate had the machine kept the first window's pace
        paced = rates[-1] * probes[-1] / probes[0] if rates and probes[0] > 0 and probes[-1] > 0 else float("nan")
        sustained = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
        row = {"size": size, "candidates": m["candidates"], "wall_s": round(m["wall_s"], 1),
               "rate_overall": round(sustained, 2), "rate_first_window": round(rates[0], 2) if rates else None,
               "rate_last_window": round(rates[-1], 2) if rates else None,
               "last_over_first": round(rates[-1] / rates[0], 3) if rates else None,
               "last_over_first_at_first_pace": round(paced / rates[0], 3) if rates else None,
               "driver_cpu_ms_per_candidate": round(1000 * m["driver_cpu_s"] / max(1, m["candidates"]), 2),
               "driver_rss_mb": round(m["driver_rss_mb"], 1), "ratio_to_bare": round(sustained / bare, 3),
               "windows": [{"from": lo, "to": hi, "rate": round(r, 2),
                            "driver_cpu_ms_per_candidate": _per(m["cpu_at_done"], lo, hi),
                            "job_cpu_ms": round(1000 * sum(m["job_cpu"][lo:hi]) / max(1, hi - lo), 1),
                            "probe_cpu_ms": p}
                           for (lo, hi, r), p in zip(win, probes)],
               "cpu_ms_per_candidate_by_role": {k: round(1000 * v / max(1, m["candidates"]), 1)
                                                for k, v in sorted(m["cpu_by_role"].items())}}
        rows.append(row)
        print(f"{size:>6} candidates: {row['rate_overall']:6.2f}/s overall, first window {row['rate_first_window']}/s, "
              f"last {row['rate_last_window']}/s (x{row['last_over_first']}), driver CPU "
              f"{row['driver_cpu_ms_per_candidate']} ms/candidate, RSS {row['driver_rss_mb']} MB, "
              f"{row['ratio_to_bare']:.2f} of the bare sandbox")
        print("        per window: cand/s " + " ".join(f"{w['rate']:.1f}" for w in row["windows"])
              + " | driver CPU ms/cand " + " ".join(f"{w['driver_cpu_ms_per_candidate']:.1f}" for w in row["windows"])
              + " | job CPU ms " + " ".join(f"{w['job_cpu_ms']:.1f}" for w in row["windows"])
              + " | machine probe CPU ms " + " ".join(f"{w['probe_cpu_ms']:.1f}" for w in row["windows"]))
        print(f"        last/first at the first window's machine pace (rate x probe ratio): "
              f"{row['last_over_first_at_first_pace']}")
        print("        CPU ms per candidate by role: " + ", ".join(
            f"{k} {v}" for k, v in row["cpu_ms_per_candidate_by_role"].items()))
    print()
    print(f"{'size':>6} {'cand/s':>8} {'first':>8} {'last':>8} {'last/first':>10} {'CPU ms/c':>9} {'RSS MB':>8} {'/bare':>6}")
    for r in rows:
        print(f"{r['size']:>6} {r['rate_overall']:>8} {r['rate_first_window']:>8} {r['rate_last_window']:>8} "
              f"{r['last_over_first']:>10} {r['driver_cpu_ms_per_candidate']:>9} {r['driver_rss_mb']:>8} "
              f"{r['ratio_to_bare']:>6}")
    largest = rows[-1]
    verdict = {"rate>=20": largest["rate_overall"] >= TARGET_RATE,
               "last/first>=0.8": (largest["last_over_first"] or 0) >= 0.8,
               "rss<1GB": largest["driver_rss_mb"] < 1024}
    print("targets at the largest size:", ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in verdict.items()))
    print(f"  last/first with the machine's drift taken out (probe): {largest['last_over_first_at_first_pace']}")
    ws = largest["windows"]
    if len(ws) > 1:
        print(f"  last window vs first: driver CPU/candidate x{ws[-1]['driver_cpu_ms_per_candidate'] / ws[0]['driver_cpu_ms_per_candidate']:.2f}, "
              f"the jobs' own CPU x{ws[-1]['job_cpu_ms'] / max(1e-9, ws[0]['job_cpu_ms']):.2f}")
    dest.write_text(json.dumps({"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                                "bare_jobs_per_s": round(bare, 2), "rows": rows, "targets": verdict,
                                "cluster": cluster}, indent=1))
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()
