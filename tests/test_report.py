"""The HTML report and the inspection commands on a real campaign database.

The report is opened in headless Chromium: the DOM after its script ran is checked (front points,
lineage nodes, hypervolume curve), a node is clicked through the DevTools protocol and the panel
must show that candidate's code and diff, and screenshots are taken. Skipped when Chromium is absent.
"""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import websocket

from ci import missing
from design_space.seeds import seed_source
from evolve.config import dump_config, parse_config
from evolve.novelty import program_hash
from evolve.operators.knobs import write_knobs
from evolve.report import build_report, report_data
from evolve.store import Store
from sandboxes.backends.process import ProcessSandbox
from sandboxes.job import Job

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = next((p for p in (os.environ.get("CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser"),
                             shutil.which("google-chrome")) if p), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1400,1600"]
PARAMS = {"conversations": 1}
CRASH = seed_source("recency_window").replace("    def retrieve(self, query", "    def retrieve(self, query") \
    .replace("def retrieve(self, query: Query) -> Recall:", "def retrieve(self, query: Query) -> Recall:\n"
             "        raise RuntimeError('broken on purpose')")


def _add(store: Store, sandbox: ProcessSandbox, code: str, parents: tuple, op: str, note: str) -> str:
    cand = store.add_candidate(code, program_hash(code), parents, op, note)
    for stage in ("smoke", "full"):
        res = sandbox.run(Job(program=code, task="synthetic", task_params=PARAMS, fidelity=stage, seed=1))
        store.add_evaluation(cand.id, stage, res)
        if res.status != "ok":
            break
    store.log("done", candidate=cand.id, outcome=res.status)
    return cand.id


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Two seeds, three children (one that crashes), all evaluated in the process sandbox."""
    runs = tmp_path_factory.mktemp("runs")
    cfg = parse_config({"name": "rep", "seed": 1,
                        "task": {"name": "synthetic", "params": PARAMS, "cascade": ["smoke", "full"]},
                        "seeds": ["bm25_rag", "recency_window"], "budget": {"evaluations": 5}})
    store = Store.create(runs / "rep", dump_config(cfg))
    store.log("session_start", pending=2)
    sb = ProcessSandbox()
    bm25, recency = seed_source("bm25_rag"), seed_source("recency_window")
    assert "raise RuntimeError" in CRASH
    _add(store, sb, bm25, (), "seed:bm25_rag", "seed bm25_rag")
    _add(store, sb, recency, (), "seed:recency_window", "seed recency_window")
    _add(store, sb, write_knobs(bm25, {"TOP_K": 3}), ("c0001",), "structural", "TOP_K 10 → 3")
    _add(store, sb, write_knobs(write_knobs(bm25, {"TOP_K": 3}), {"NEIGHBOUR_RADIUS": 1}), ("c0003",), "structural",
         "NEIGHBOUR_RADIUS 0 → 1")
    _add(store, sb, CRASH, ("c0002",), "llm_edit", "a broken edit")
    yield runs, store
    store.close()


def test_report_is_self_contained_and_complete(run, tmp_path):
    _runs, store = run
    steps = []
    out = build_report(store, tmp_path / "r.html", steps.append)
    html = out.read_text()
    assert len(steps) == store.count_candidates() + 2  # the progress bar's ticks
    # nothing to fetch: no external src/href, no URL other than the SVG namespace
    assert not re.search(r'(src|href)\s*=\s*["\'](?!#|data:)', html)
    assert set(re.findall(r"https?://[^\s\"'<>)]+", html)) <= {"http://www.w3.org/2000/svg"}
    assert html.count('class="node"') == 5
    data = report_data(store)
    states = {n["id"]: n["state"] for n in data["nodes"]}
    assert states["c0005"] == "crashed" and "front" in states.values()
    assert [n["id"] for n in data["nodes"] if n["state"] == "front"]
    assert "+TOP_K = 3" in next(n for n in data["nodes"] if n["id"] == "c0003")["diff"]
    hv = [p["hv"] for p in data["hypervolume"]]
    assert len(hv) == 4 and hv == sorted(hv) and hv[-1] > 0  # one point per full evaluation, never down
    # under the front table: the best program at no more tokens than the seed with the best recall
    full = {e.candidate_id: e.metrics for e in store.evaluations("full") if e.status == "ok"}
    seed = max(("c0001", "c0002"), key=lambda c: (full[c]["recall"], -full[c]["tokens"]))
    name = {"c0001": "bm25_rag", "c0002": "recency_window"}[seed]
    fits = [c for c in full if full[c]["tokens"] <= full[seed]["tokens"]]
    pick = min(fits, key=lambda c: (-full[c]["recall"], full[c]["tokens"], c))
    lines = re.findall(r'<p class="headline">([^<]*)</p>', html)
    assert lines and lines[0].startswith(f"best within tokens ≤ {full[seed]['tokens']:.4g} ({name}): {pick}"), lines


def _need_chromium() -> None:
    if CHROMIUM is None:
        missing("Chromium is not installed (apt-get install -y chromium)")


def _chromium(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, *args], capture_output=True, text=True, timeout=timeout)


def test_report_in_headless_chromium(run, tmp_path):
    _need_chromium()
    _runs, store = run
    page = build_report(store, tmp_path / "report.html")
    profile = tmp_path / "profile"
    dom = _chromium(f"--user-data-dir={profile}", "--dump-dom", page.as_uri()).stdout
    assert dom.count('class="node"') == 5
    assert len(re.findall(r'<circle class="point( front)?"', dom)) == 4  # the four that finished `full`
    assert len(re.findall(r'<circle class="point front"', dom)) >= 1
    assert "<polyline" in dom and 'id="hv-plot"' in dom
    shot = tmp_path / "report.png"
    _chromium(f"--user-data-dir={profile}", f"--screenshot={shot}", page.as_uri())
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    assert int.from_bytes(png[16:20], "big") == 1400


class _DevTools:
    """A minimal Chrome DevTools protocol client over the local websocket."""

    def __init__(self, url: str) -> None:
        # No Origin header: newer Chromium rejects DevTools websockets from other origins (403), older
        # ones ignore --remote-allow-origins; a client without an Origin passes both.
        self.ws = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.n = 0

    def call(self, method: str, **params):
        self.n += 1
        self.ws.send(json.dumps({"id": self.n, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.n:
                if "error" in msg:
                    raise RuntimeError(msg["error"])
                return msg["result"]

    def js(self, expr: str):
        return self.call("Runtime.evaluate", expression=expr, returnByValue=True)["result"].get("value")


def test_clicking_a_lineage_node_opens_its_code_and_diff(run, tmp_path):
    _need_chromium()
    _runs, store = run
    page = build_report(store, tmp_path / "report.html")
    proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--remote-debugging-port=0",
                             "--remote-debugging-address=127.0.0.1", "--remote-allow-origins=*", page.as_uri()],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        deadline = time.time() + 30
        while port is None and time.time() < deadline:
            line = proc.stderr.readline()
            m = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            port = int(m.group(1)) if m else None
        assert port, "Chromium did not open its DevTools port"
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=10))
        target = next(t for t in targets if t["type"] == "page")
        dt = _DevTools(target["webSocketDebuggerUrl"])
        for _ in range(300):  # the target may still show about:blank before the report loads
            if dt.js("document.readyState === 'complete' && !!document.querySelector('#panel')"):
                break
            time.sleep(0.1)
        dt.js("document.querySelector('.node[data-id=\"c0004\"]').scrollIntoView({block: 'center'})")
        box = dt.js("(() => { const r = document.querySelector('.node[data-id=\"c0004\"] circle')"
                    ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        assert dt.js("document.getElementById('panel').hidden") is True
        for kind in ("mousePressed", "mouseReleased"):  # a real click at the node's position
            dt.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)
        assert dt.js("document.getElementById('panel').hidden") is False
        assert dt.js("document.getElementById('panel-title').textContent").startswith("c0004 — structural")
        added = dt.js("[...document.querySelectorAll('#panel .diff .add')].map(e => e.textContent)")
        assert "+NEIGHBOUR_RADIUS = 1" in " ".join(added)
        assert "class Memory(MemoryProgram)" in dt.js("document.querySelector('#panel .code').textContent")
        assert dt.js("document.querySelector('.node[data-id=\"c0004\"]').classList.contains('selected')") is True
        shot = base64.b64decode(dt.call("Page.captureScreenshot", format="png")["data"])
        (tmp_path / "clicked.png").write_bytes(shot)
        assert shot[:4] == b"\x89PNG" and len(shot) > 20_000
        dt.ws.close()
    finally:
        proc.kill()
        proc.wait(timeout=30)
