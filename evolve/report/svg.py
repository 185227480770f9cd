"""Hand-written SVG for the report: front scatter, hypervolume curve, lineage graph (no JS needed)."""
from __future__ import annotations

from html import escape
from typing import Any

STATE_COLOURS = {"front": "#e8590c", "ok": "#74b816", "pruned": "#adb5bd", "pending": "#ffffff",
                 "running": "#4dabf7"}
FAILED = "#fa5252"


def _scale(lo: float, hi: float, a: float, b: float):
    span = (hi - lo) or 1.0
    return lambda v: a + (v - lo) / span * (b - a)


def _axes(w: int, h: int, pad: int, xlabel: str, ylabel: str, xr, yr) -> list[str]:
    out = [f'<line x1="{pad}" y1="{h - pad}" x2="{w - 10}" y2="{h - pad}" class="axis"/>',
           f'<line x1="{pad}" y1="10" x2="{pad}" y2="{h - pad}" class="axis"/>',
           f'<text x="{(w + pad) / 2}" y="{h - 8}" class="label" text-anchor="middle">{escape(xlabel)}</text>',
           f'<text x="14" y="{(h - pad) / 2}" class="label" text-anchor="middle" '
           f'transform="rotate(-90 14 {(h - pad) / 2})">{escape(ylabel)}</text>']
    for k in range(5):
        xv = xr[0] + (xr[1] - xr[0]) * k / 4
        yv = yr[0] + (yr[1] - yr[0]) * k / 4
        x = pad + (w - 10 - pad) * k / 4
        y = h - pad - (h - pad - 10) * k / 4
        anchor = "end" if k == 4 else "middle"  # the last label would run off the edge
        out.append(f'<text x="{x:.1f}" y="{h - pad + 14}" class="tick" text-anchor="{anchor}">{xv:.3g}</text>')
        out.append(f'<text x="{pad - 4}" y="{y + 3:.1f}" class="tick" text-anchor="end">{yv:.3g}</text>')
    return out


def front_svg(nodes: list[dict[str, Any]], objectives: list[dict[str, str]], w: int = 520, h: int = 360) -> str:
    if len(objectives) < 2:
        return "<p>The front plot needs two objectives.</p>"
    mx, my = objectives[0]["metric"], objectives[1]["metric"]
    pts = [n for n in nodes if mx in n["metrics"] and my in n["metrics"]]
    if not pts:
        return "<p>No candidate has finished the last stage yet.</p>"
    pad = 52
    xr = (min(n["metrics"][mx] for n in pts), max(n["metrics"][mx] for n in pts))
    yr = (min(n["metrics"][my] for n in pts), max(n["metrics"][my] for n in pts))
    sx, sy = _scale(*xr, pad + 8, w - 18), _scale(*yr, h - pad - 8, 18)
    arrow = {"max": "↑ better", "min": "↓ better"}
    out = [f'<svg id="front-plot" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">']
    out += _axes(w, h, pad, f"{mx} ({arrow[objectives[0]['direction']]})",
                 f"{my} ({arrow[objectives[1]['direction']]})", xr, yr)
    front = sorted((n for n in pts if n["state"] == "front"), key=lambda n: n["metrics"][mx])
    if len(front) > 1:
        path = " ".join(f"{'M' if i == 0 else 'L'}{sx(n['metrics'][mx]):.1f},{sy(n['metrics'][my]):.1f}"
                        for i, n in enumerate(front))
        out.append(f'<path d="{path}" class="front-line"/>')
    for n in sorted(pts, key=lambda n: n["state"] == "front"):
        cls = "point front" if n["state"] == "front" else "point"
        out.append(f'<circle class="{cls}" data-id="{n["id"]}" cx="{sx(n["metrics"][mx]):.1f}" '
                   f'cy="{sy(n["metrics"][my]):.1f}" r="{6 if n["state"] == "front" else 4}">'
                   f'<title>{n["id"]}: {mx}={n["metrics"][mx]:.4g}, {my}={n["metrics"][my]:.4g}</title></circle>')
    out.append("</svg>")
    return "\n".join(out)


def hypervolume_svg(curve: list[dict[str, Any]], w: int = 520, h: int = 360) -> str:
    if not curve:
        return "<p>No hypervolume yet.</p>"
    pad = 52
    xr = (0.0, max(c["t"] for c in curve) or 1.0)
    yr = (0.0, max(c["hv"] for c in curve) or 1.0)
    sx, sy = _scale(*xr, pad, w - 10), _scale(*yr, h - pad, 10)
    pts = []
    prev = None
    for c in curve:  # a step line: the hypervolume holds until the next improvement
        if prev is not None:
            pts.append(f"{sx(c['t']):.1f},{sy(prev):.1f}")
        pts.append(f"{sx(c['t']):.1f},{sy(c['hv']):.1f}")
        prev = c["hv"]
    out = [f'<svg id="hv-plot" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">']
    out += _axes(w, h, pad, "seconds since the campaign started", "hypervolume", xr, yr)
    out.append(f'<polyline points="{" ".join(pts)}" class="hv-line"/>')
    out.append("</svg>")
    return "\n".join(out)


def lineage_layout(nodes: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """Layers by generation; within a layer, children sit near their first parent."""
    by_gen: dict[int, list[dict[str, Any]]] = {}
    for n in nodes:
        by_gen.setdefault(n["generation"], []).append(n)
    pos: dict[str, tuple[float, float]] = {}
    for gen in sorted(by_gen):
        def near_parent(n: dict[str, Any]) -> tuple[float, str]:
            return (pos.get(n["parents"][0], (0, 0))[0] if n["parents"] else 0, n["id"])

        layer = sorted(by_gen[gen], key=near_parent)
        for i, n in enumerate(layer):
            pos[n["id"]] = (40 + i * 78, 40 + gen * 90)
    return pos


def lineage_svg(nodes: list[dict[str, Any]], edges: list[dict[str, str]]) -> str:
    if not nodes:
        return "<p>No candidates yet.</p>"
    pos = lineage_layout(nodes)
    w = max(x for x, _ in pos.values()) + 60
    h = max(y for _, y in pos.values()) + 60
    out = [f'<svg id="lineage-graph" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'viewBox="0 0 {w} {h}">']
    for e in edges:
        if e["from"] in pos and e["to"] in pos:
            (x1, y1), (x2, y2) = pos[e["from"]], pos[e["to"]]
            mid = (y1 + y2) / 2
            out.append(f'<path class="edge" d="M{x1},{y1 + 14} C{x1},{mid} {x2},{mid} {x2},{y2 - 14}">'
                       f'<title>{e["from"]} → {e["to"]} ({escape(e["operator"])})</title></path>')
    for n in nodes:
        x, y = pos[n["id"]]
        fill = STATE_COLOURS.get(n["state"], FAILED)
        vals = ", ".join(f"{m}={v:.4g}" for m, v in n["metrics"].items())
        out.append(f'<g class="node" data-id="{n["id"]}" data-state="{n["state"]}" transform="translate({x},{y})" '
                   f'tabindex="0"><circle r="14" fill="{fill}"/>'
                   f'<text y="28" text-anchor="middle" class="nid">{n["id"]}</text>'
                   f'<title>{n["id"]} {escape(n["operator"])} [{n["state"]}] {escape(vals)}\n'
                   f'{escape(n["note"])}</title></g>')
    out.append("</svg>")
    return "\n".join(out)
