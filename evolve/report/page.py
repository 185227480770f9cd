"""The self-contained HTML page: inline CSS, inline SVG, a little inline JS, the data as JSON.

Nothing is fetched: the file opens the same offline, from an e-mail or from a CI artefact.
"""
from __future__ import annotations

import json
from html import escape
from typing import Any

from evolve.report.svg import STATE_COLOURS, front_svg, hypervolume_svg, lineage_svg
from evolve.views import front_size

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#212529;background:#f8f9fa}
header{padding:14px 24px;background:#212529;color:#f8f9fa}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#ced4da}main{padding:16px 24px}
section{background:#fff;border:1px solid #dee2e6;border-radius:6px;padding:12px 16px;margin-bottom:16px}
h2{font-size:16px;margin:0 0 8px}.row{display:flex;gap:16px;flex-wrap:wrap;align-items:flex-start}
.axis{stroke:#495057}.tick{font-size:10px;fill:#495057}.label{font-size:11px;fill:#212529}
.point{fill:#adb5bd;cursor:pointer}.point.front{fill:#e8590c}.front-line{fill:none;stroke:#e8590c;stroke-width:1.5}
.hv-line{fill:none;stroke:#1c7ed6;stroke-width:2}
#lineage-wrap{overflow:auto;max-height:640px}.edge{fill:none;stroke:#adb5bd;stroke-width:1.2}.node{cursor:pointer}
.node circle{stroke:#343a40;stroke-width:1}
.node.selected circle{stroke:#1c7ed6;stroke-width:3}.nid{font-size:10px}
#panel{position:fixed;top:0;right:0;width:min(720px,60vw);height:100vh;overflow:auto;background:#fff;
border-left:2px solid #1c7ed6;box-shadow:-4px 0 12px rgba(0,0,0,.15);padding:12px 16px;box-sizing:border-box}
#panel[hidden]{display:none}#panel pre{background:#f1f3f5;padding:8px;overflow:auto;font-size:12px}
.add{color:#2b8a3e;background:#ebfbee;display:block}.del{color:#c92a2a;background:#fff5f5;display:block}
.hunk{color:#1c7ed6;display:block}table{border-collapse:collapse}
td,th{padding:2px 8px;border-bottom:1px solid #e9ecef;text-align:left}
.legend span{display:inline-block;margin-right:10px}
.legend i{display:inline-block;width:10px;height:10px;border-radius:5px;
border:1px solid #343a40;margin-right:4px}button.close{float:right}a.pid{cursor:pointer;color:#1c7ed6}
"""

JS = """
const D = JSON.parse(document.getElementById('memarch-data').textContent);
const byId = Object.fromEntries(D.nodes.map(n => [n.id, n]));
const esc = s => String(s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
function diffHtml(d) {
  if (!d) return '<em>a seed: no parent to compare with</em>';
  return d.split('\\n').map(l => {
    const c = l.startsWith('+') && !l.startsWith('+++') ? 'add' : l.startsWith('-') && !l.startsWith('---') ? 'del'
            : l.startsWith('@@') ? 'hunk' : '';
    return c ? `<span class="${c}">${esc(l)}</span>` : esc(l) + '\\n';
  }).join('');
}
function open_(id) {
  const n = byId[id]; if (!n) return;
  document.querySelectorAll('.node.selected').forEach(e => e.classList.remove('selected'));
  const g = document.querySelector(`.node[data-id="${id}"]`); if (g) g.classList.add('selected');
  const rows = Object.entries(n.metrics).map(([m, v]) => `<tr><td>${esc(m)}</td><td>${v.toPrecision(4)}</td>` +
    `<td>${m in n.deltas ? (n.deltas[m] >= 0 ? '+' : '') + n.deltas[m].toPrecision(3) : ''}</td></tr>`).join('');
  const parents = n.parents.map(p => `<a class="pid" data-open="${p}">${p}</a>`).join(', ') || 'none';
  const p = document.getElementById('panel');
  p.innerHTML = `<button class="close" onclick="document.getElementById('panel').hidden=true">close</button>
    <h2 id="panel-title">${esc(n.id)} — ${esc(n.operator)} <small>[${esc(n.state)}]</small></h2>
    <p>parents: ${parents}; generation ${n.generation}${n.stage ? '; last stage ' + esc(n.stage) : ''}</p>
    <p>${esc(n.note)}</p>${n.error ? '<p style="color:#c92a2a">' + esc(n.error) + '</p>' : ''}
    ${n.pruned ? '<p>stopped early: ' + esc(n.pruned) + '</p>' : ''}
    ${rows ? '<table><tr><th>objective</th><th>value</th><th>Δ parent</th></tr>' + rows + '</table>' : ''}
    <h3>diff to ${n.parents[0] || 'parent'}</h3><pre class="diff">${diffHtml(n.diff)}</pre>
    <h3>code</h3><pre class="code">${esc(n.code)}</pre>`;
  p.hidden = false;
  p.querySelectorAll('[data-open]').forEach(a => a.addEventListener('click', () => open_(a.dataset.open)));
}
document.querySelectorAll('[data-id]').forEach(e => e.addEventListener('click', () => open_(e.dataset.id)));
document.querySelectorAll('.node').forEach(e => e.addEventListener('keydown', ev => {
  if (ev.key === 'Enter') open_(e.dataset.id); }));
const wanted = location.hash.slice(1); if (wanted) open_(wanted);
"""


def _data_json(data: dict[str, Any]) -> str:
    # "</" inside a script element would end it early
    return json.dumps(data, separators=(",", ":")).replace("</", "<\\/")


def _front_table(data: dict[str, Any]) -> str:
    mets = [o["metric"] for o in data["objectives"]]
    points: dict[tuple, list[dict[str, Any]]] = {}  # programs tied on every objective share a row
    for n in sorted((n for n in data["nodes"] if n["state"] == "front"), key=lambda n: n["id"]):
        points.setdefault(tuple(n["metrics"][m] for m in mets), []).append(n)
    rows = "".join(f'<tr><td><a class="pid" data-id="{ns[0]["id"]}">{ns[0]["id"]}</a>'
                   + (f' <small title="{" ".join(x["id"] for x in ns[1:])}">+{len(ns) - 1} tied</small>'
                      if len(ns) > 1 else "") + "</td>"
                   + "".join(f"<td>{v:.4g}</td>" for v in point)
                   + f"<td>{escape(ns[0]['operator'])}</td><td>{escape(ns[0]['note'][:80])}</td></tr>"
                   for point, ns in sorted(points.items()))
    return (f"<table id='front-table'><tr><th>candidate</th>{''.join(f'<th>{escape(m)}</th>' for m in mets)}"
            f"<th>operator</th><th>note</th></tr>{rows}</table>")


def _front_size(data: dict[str, Any]) -> str:
    """Distinct points, ties folded: the same count `memarch front` and `status` give."""
    mets = [o["metric"] for o in data["objectives"]]
    front = [n for n in data["nodes"] if n["state"] == "front"]
    return front_size(len({tuple(round(n["metrics"][m], 9) for m in mets) for n in front}), len(front))


def render_page(data: dict[str, Any], sections: tuple[str, ...] = ("front", "hypervolume", "lineage")) -> str:
    counts: dict[str, int] = {}
    for n in data["nodes"]:
        counts[n["state"]] = counts.get(n["state"], 0) + 1
    legend = "".join(f'<span><i style="background:{STATE_COLOURS.get(s, "#fa5252")}"></i>{escape(s)} ({c})</span>'
                     for s, c in sorted(counts.items()))
    parts = []
    if "front" in sections:
        parts.append(f'<section id="front"><h2>Pareto front</h2><div class="row">'
                     f'{front_svg(data["nodes"], data["objectives"])}{_front_table(data)}</div>'
                     + "".join(f'<p class="headline">{escape(line)}</p>' for line in data.get("headline", []))
                     + '</section>')
    if "hypervolume" in sections:
        parts.append(f'<section id="hypervolume"><h2>Hypervolume over time</h2>'
                     f'{hypervolume_svg(data["hypervolume"])}</section>')
    if "lineage" in sections:
        parts.append(f'<section id="lineage"><h2>Lineage</h2><p class="legend">{legend}</p>'
                     f'<p>Click a node for its code and its diff to the parent.</p>'
                     f'<div id="lineage-wrap">{lineage_svg(data["nodes"], data["edges"])}</div></section>')
    llm = data.get("llm", {})
    summary = (f"task {escape(data['task'])}, {len(data['nodes'])} candidates, {data.get('evaluations', 0)} stage "
               f"evaluations, {_front_size(data)}, "
               f"LLM {llm.get('calls', 0)} calls ${llm.get('cost_usd', 0):.4f}")
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>memarch — {escape(data['campaign'])}</title><style>{CSS}</style></head><body>"
            f"<header><h1>memarch campaign {escape(data['campaign'])}</h1><p>{summary}</p></header>"
            f"<main>{''.join(parts)}</main><aside id='panel' hidden></aside>"
            f"<script type='application/json' id='memarch-data'>{_data_json(data)}</script>"
            f"<script>{JS}</script></body></html>\n")
