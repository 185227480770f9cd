"""How fast LLM-guided campaigns go when the model, not memarch, sets the pace.

The test suite's OpenAI-compatible server (tests/openai_server.py) runs in its own process and
answers every prompt with a valid one-line knob edit of the program it was shown (a fresh float
for one of its float knobs, so children never repeat). Campaigns: synthetic task, smoke fidelity,
one tiny conversation, seed `bm25_rag`, forkserver sandbox, `parallel: 2` evaluations.

(a) instant server: LLM-made candidates/s over each size in `--sizes`, the rate per window, and
    driver CPU per candidate (time.process_time of the driver: prompt, call, parse, store, loop).
    Target on 2 cores: >= 20 candidates/s sustained.
(b) a server that answers after `--latency` s: candidates/s against proposals in flight
    (`--in-flight`, default 1 4 16 64). Target: >= 0.8 x min(in-flight / latency, the structural
    operator's rate), i.e. until the sandboxes or cores saturate.
(c) the transports: driver CPU per call through plain HTTP (aiohttp) and through litellm, 16 calls
    in flight, against the instant server.

Each campaign runs in a fresh driver process. The `structural` operator is measured in the same
run on the same setup, and every LLM rate is printed with its ratio to it. Under load, read the
CPU columns rather than the rates.

Run: ``python bench/llm_throughput.py [--sizes 100 1000 5000] [--in-flight 1 4 16 64]``.
Prints tables, writes bench/results/llm_throughput.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TINY = {"conversations": 1}
TARGET_RATE = 20.0
SERVER = '''
import json, random, re, sys, time
sys.path.insert(0, {tests!r})
from openai_server import OpenAIServer
delay = float(sys.argv[1])
rng = random.Random(0)
FLOAT = re.compile(r"^([A-Z][A-Z0-9_]*) = (\\d+\\.\\d+)\\s*$", re.MULTILINE)

def answer(body):
    user = body["messages"][-1]["content"]
    m = re.search(r"## Current program[^\\n]*\\n```python\\n(.*?)\\n```", user, re.DOTALL)
    knobs = FLOAT.findall(m.group(1) if m else user)
    if not knobs:
        return {{"content": "no knob to edit", "delay_s": delay}}
    name, value = rng.choice(knobs)
    new = round(rng.uniform(0.05, 3.0), 6)
    return {{"content": f"<<<<<<< SEARCH\\n{{name}} = {{value}}\\n=======\\n{{name}} = {{new}}\\n>>>>>>> REPLACE\\n"
                        f"NOTE: {{name}} {{value}} -> {{new}}", "delay_s": delay}}

server = OpenAIServer(answer).start()
print(server.port, flush=True)
sys.stdin.read()
'''


def start_server(delay: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-c", SERVER.format(tests=str(ROOT / "tests")), str(delay)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}/v1"


def campaign_config(name: str, size: int, operator: str, base_url: str, in_flight: int) -> dict:
    cfg = {
        "name": name, "seed": 1,
        "task": {"name": "synthetic", "params": TINY, "cascade": ["smoke"]},
        "seeds": ["bm25_rag"], "operators": [{"name": operator}],
        "budget": {"evaluations": size}, "parallel": 2, "parallel_proposals": in_flight,
        "sandbox": {"backend": "forkserver"},
    }
    if operator != "structural":
        cfg["llm"] = {"models": [{"model": "openai/bench", "api_base": base_url, "price_in": 0.1, "price_out": 0.1,
                                  "timeout_s": 60}]}
    return cfg


def child(spec: dict, out: Path) -> None:
    """One campaign in this (fresh) process; writes its measurements to `out`."""
    from evolve.campaign import Campaign, Progress
    from evolve.config import parse_config

    runs = Path(tempfile.mkdtemp(prefix="memarch-llmbench-"))
    cpu_at_done: list[float] = []  # process-wide CPU (the LLM loop thread included) as each candidate ends
    progress = Progress(on_done=lambda cid, outcome: cpu_at_done.append(time.process_time()))
    campaign = Campaign.create(parse_config(spec), runs, progress=progress)
    cpu0, t0 = time.process_time(), time.monotonic()
    reason = campaign.run()
    wall, cpu = time.monotonic() - t0, time.process_time() - cpu0
    store = campaign.store
    done = sorted(t for t, _k, _d in store.events("done"))
    ops = [c.operator for c in store.candidates()]
    totals = store.llm_totals()
    unlinked = store.conn.execute("SELECT COUNT(*) FROM llm_calls WHERE candidate_id IS NULL AND error = ''").fetchone()[0]
    out.write_text(json.dumps({"done_times": done, "wall_s": wall, "driver_cpu_s": cpu, "reason": reason,
                               "cpu_at_done": cpu_at_done,
                               "candidates": len(ops), "made": sum(not o.startswith("seed:") for o in ops),
                               "llm_calls": totals["calls"], "llm_errors": totals["errors"],
                               "calls_not_linked": unlinked,
                               "failed_proposals": sum(1 for _ in store.events("operator_failed"))}))


def run_child(spec: dict) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = Path(fh.name)
    subprocess.run([sys.executable, __file__, "--child", json.dumps(spec), str(out)], check=True)
    data = json.loads(out.read_text())
    out.unlink()
    return data


def steady_rate(times: list[float], skip: int) -> float:
    """Candidates/s after the first `skip` finished (seeds, warm-up)."""
    times = times[skip:]
    if len(times) < 2 or times[-1] <= times[0]:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])


def steady_cpu_ms(cpu_at_done: list[float], skip: int) -> float:
    """Driver CPU per finished candidate (ms) after the first `skip`: start-up (Ray, imports) left out."""
    cpu = cpu_at_done[skip:]
    return 1000 * (cpu[-1] - cpu[0]) / (len(cpu) - 1) if len(cpu) > 1 else float("nan")


def windows(times: list[float], width: int) -> list[float]:
    out = []
    for lo in range(0, len(times) - 1, width):
        hi = min(len(times) - 1, lo + width)
        if hi - lo < width // 2 and out:
            break
        span = times[hi] - times[lo]
        out.append(round((hi - lo) / span, 1) if span > 0 else float("inf"))
    return out


def transports(base_url: str, calls: int = 200) -> dict[str, float]:
    """Driver CPU per call (ms), 16 calls in flight, plain HTTP vs litellm, after one warm-up call each."""
    from evolve.llm import LLMClient, ModelSpec
    from evolve.operators import prompts

    messages = [{"role": "system", "content": prompts.system_prompt(False)},
                {"role": "user", "content": "## Current program (c1)\n```python\nK1 = 1.2\n```"}]
    out = {}
    for transport in ("http", "litellm"):
        client = LLMClient([ModelSpec("openai/bench", api_base=base_url, price_in=0.1, price_out=0.1,
                                      transport=transport, max_in_flight=16)])
        client.complete(messages, purpose="warm-up")
        cpu0 = time.process_time()
        futures = [client.submit(client.acomplete(messages, purpose="t")) for _ in range(calls)]
        for f in futures:
            f.result()
        out[transport] = round(1000 * (time.process_time() - cpu0) / calls, 2)
        client.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    ap.add_argument("--in-flight", type=int, nargs="+", default=[1, 4, 16, 64])
    ap.add_argument("--latency", type=float, default=1.0)
    ap.add_argument("--instant-in-flight", type=int, default=8, help="proposals in flight for part (a)")
    ap.add_argument("--structural-size", type=int, default=1000)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(json.loads(args.child[0]), Path(args.child[1]))
        return
    load = os.getloadavg()[0]
    result: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                "load_avg_1m_start": round(load, 1)}, "instant": [], "latency": [], "transport": {}}
    print(f"load average at start: {load:.1f} on {os.cpu_count()} cores")

    server, url = start_server(0.0)
    try:
        s = run_child(campaign_config("structural", args.structural_size, "structural", url, 2))
        structural = {"size": args.structural_size, "rate": round(steady_rate(s["done_times"], 1), 2),
                      "cpu_ms_per_candidate": round(steady_cpu_ms(s["cpu_at_done"], 1), 2)}
        result["structural"] = structural
        print(f"\nstructural, {structural['size']} candidates: {structural['rate']:.1f} candidates/s, "
              f"driver CPU {structural['cpu_ms_per_candidate']:.1f} ms/candidate")
        print(f"\n(a) instant server, {args.instant_in_flight} proposals in flight, parallel 2")
        print(f"{'size':>6} {'cand/s':>7} {'x struct':>8} {'cpu ms/cand':>11} {'llm calls':>9} {'errors':>6}  windows")
        for size in args.sizes:
            r = run_child(campaign_config(f"instant{size}", size, "llm_edit", url, args.instant_in_flight))
            rate = steady_rate(r["done_times"], 1)
            row = {"size": size, "rate": round(rate, 2), "ratio_to_structural": round(rate / structural["rate"], 2)
                   if structural["rate"] else None,
                   "cpu_ms_per_candidate": round(steady_cpu_ms(r["cpu_at_done"], 1), 2),
                   "extra_cpu_ms_per_llm_candidate": round(steady_cpu_ms(r["cpu_at_done"], 1)
                                                           - structural["cpu_ms_per_candidate"], 2),
                   "windows": windows(r["done_times"], 100 if size <= 1000 else 1000),
                   **{k: r[k] for k in ("candidates", "made", "llm_calls", "llm_errors", "calls_not_linked",
                                        "failed_proposals", "wall_s", "reason")}}
            result["instant"].append(row)
            print(f"{size:>6} {row['rate']:>7.1f} {row['ratio_to_structural'] or 0:>8.2f} "
                  f"{row['cpu_ms_per_candidate']:>11.1f} {row['llm_calls']:>9} {row['llm_errors']:>6}  {row['windows']}")
        result["transport"] = transports(url)
        print(f"\n(c) driver CPU per call, 16 in flight: http {result['transport']['http']} ms, "
              f"litellm {result['transport']['litellm']} ms")
    finally:
        server.kill()

    server, url = start_server(args.latency)
    try:
        print(f"\n(b) server answering after {args.latency:g} s, parallel 2")
        print(f"{'in flight':>9} {'cand/s':>7} {'ideal':>6} {'target':>6} {'of ideal':>8} {'x struct':>8} {'calls':>6} "
              f"{'cpu ms/cand':>11}")
        for k in args.in_flight:
            size = max(24, 4 * k) + 1
            r = run_child(campaign_config(f"latency{k}", size, "llm_edit", url, k))
            rate = steady_rate(r["done_times"], 1 + min(k, size // 4))  # after the first wave came back
            ideal = k / args.latency
            target = 0.8 * min(ideal, structural["rate"] or ideal)
            row = {"in_flight": k, "candidates": r["candidates"], "rate": round(rate, 2), "ideal": ideal,
                   "target": round(target, 2), "meets_target": rate >= target,
                   "ratio_to_structural": round(rate / structural["rate"], 2) if structural["rate"] else None,
                   "cpu_ms_per_candidate": round(steady_cpu_ms(r["cpu_at_done"], 1), 2),
                   "llm_calls": r["llm_calls"], "calls_not_linked": r["calls_not_linked"], "wall_s": r["wall_s"]}
            result["latency"].append(row)
            print(f"{k:>9} {rate:>7.2f} {ideal:>6.1f} {target:>6.2f} {rate / ideal:>8.2f} "
                  f"{row['ratio_to_structural'] or 0:>8.2f} {r['llm_calls']:>6} {row['cpu_ms_per_candidate']:>11.1f}")
    finally:
        server.kill()
    result["machine"]["load_avg_1m_end"] = round(os.getloadavg()[0], 1)
    out = ROOT / "bench" / "results" / "llm_throughput.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"\nload average at end: {result['machine']['load_avg_1m_end']}; wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
