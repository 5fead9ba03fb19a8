"""The nightly report as one self-contained HTML page: tables, box plots, a timeline of one
failure and the trend over past nights, plots drawn by matplotlib and inlined as PNG."""
import base64
import html
import io

import matplotlib

matplotlib.use("Agg")  # no display: render to memory
import matplotlib.pyplot as plt  # noqa: E402

TIMELINE_BEFORE_MS = 200   # shown before the failure
TIMELINE_AFTER_MS = 600    # shown after the restore (or the failure), long enough to see traffic return


def _png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def box_plot(report):
    """One panel per timer profile, each on its own scale: a BFD profile's 5-160 ms beside a 3 s
    dead interval's 2,400 ms would sit flat on a shared one, and its regression would not show."""
    head = report["figures"][0]  # the design's headline figure
    cells = [c for c in report["cells"] if head["figure"] in c["figures"]]
    profiles = list(dict.fromkeys(c["profile"] for c in cells)) or ["-"]
    figure, panels = plt.subplots(1, len(profiles), figsize=(max(6, len(cells) * 0.9), 4), squeeze=False)
    for axes, profile in zip(panels[0], profiles):
        mine = [c for c in cells if c["profile"] == profile]
        axes.boxplot([c["figures"][head["figure"]]["values"] for c in mine] or [[0]], showfliers=True)
        axes.set_xticks(range(1, len(mine) + 1), [c["failure"] for c in mine], fontsize=7, rotation=30)
        axes.set_title(profile, fontsize=9)
        axes.set_ylabel(f"{head['words']} (ms)", fontsize=8)
    figure.suptitle(f"{head['words'].capitalize()} per failure, one panel per timer profile")
    figure.tight_layout()
    return _png(figure)


def timeline_plot(timeline):
    figure, axes = plt.subplots(figsize=(9, 3.5))
    start = max(0, int(timeline["failure_ms"]) - TIMELINE_BEFORE_MS)
    end_mark = timeline.get("restore_ms") or timeline["failure_ms"] + 2000
    end = int(end_mark) + TIMELINE_AFTER_MS
    for lb, counts in sorted(timeline["per_ms"].items()):
        window = counts[start:end]
        axes.plot(range(start, start + len(window)), window, label=lb, linewidth=0.8)
    axes.axvline(timeline["failure_ms"], color="red", linestyle="--", label="failure")
    if timeline.get("route_change_ms"):
        axes.axvline(timeline["route_change_ms"], color="black", linestyle=":", label="route change")
    if timeline.get("restore_ms"):
        axes.axvline(timeline["restore_ms"], color="green", linestyle="--", label="restore")
    axes.set_xlabel("ms since the sinks started")
    axes.set_ylabel("packets per ms")
    axes.set_title(f"{timeline['failure']} under {timeline['profile']}: arrivals per LB")
    axes.legend(fontsize=7)
    return _png(figure)


def trend_plot(history, words):
    figure, axes = plt.subplots(figsize=(9, 3.5))
    cells = sorted({key for night in history for key in night["medians"]})
    for key in cells:
        points = [(i, night["medians"][key]) for i, night in enumerate(history)
                  if night["medians"].get(key) is not None]
        if points:
            axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=key, linewidth=0.8)
    axes.set_xticks(range(len(history)), [night["date"] for night in history], rotation=45, fontsize=7)
    # Logarithmic above 1 ms (linear below, where a drain's 0 ms sits): every profile's trend shows.
    axes.set_yscale("symlog", linthresh=1.0)
    axes.set_ylabel(f"median {words} (ms, log scale)")
    axes.set_title(f"Median {words}, night by night")
    axes.legend(fontsize=6, ncol=2)
    return _png(figure)


def _fmt(value):
    return "-" if value is None else f"{value:.1f}"


def connections_table(cells):
    """A row per event of the LB set (and its restore), the broken connections of each router group
    side by side: of LBs that stayed (median / max over the runs), of the departing LB, in all."""
    esc = html.escape
    groups = list(dict.fromkeys(c["group"] for c in cells))
    by_key = {(c["event"], c["group"]): c for c in cells}
    head = "".join(f"<th>{esc(g)}: of LBs that stayed (median / max)</th><th>{esc(g)}: of the departing LB</th>"
                   f"<th>{esc(g)}: in all / alive</th>" for g in groups)
    rows = []
    for event in dict.fromkeys(c["event"] for c in cells):
        kinds = [row["event"] for row in next(c for c in cells if c["event"] == event)["rows"]]
        for kind in kinds:
            label = event if kind == event else f"{event}, then {kind}"
            tds = []
            for group in groups:
                row = next((r for r in by_key[(event, group)]["rows"] if r["event"] == kind), {}) \
                    if (event, group) in by_key else {}
                stayed, departing = row.get("broken stayed") or {}, row.get("broken departing") or {}
                total, alive = row.get("broken") or {}, row.get("alive") or {}
                tds += [f"{_fmt(stayed.get('median'))} / {_fmt(stayed.get('max'))}", _fmt(departing.get("median")),
                        f"{_fmt(total.get('median'))} / {_fmt(alive.get('median'))}"]
            rows.append(f"<tr><td style='text-align:left'>{esc(label)}</td>"
                        + "".join(f"<td>{t}</td>" for t in tds) + "</tr>")
    return ("<h2>Connections</h2><p>Long-lived TCP connections broken by each event of the LB set, per router "
            "group: ideally only the departing LB's, none on an add. These are figures: the groups differ by "
            f"design.</p><table id='connections'><tr><th>event</th>{head}</tr>{''.join(rows)}</table>")


def page(report, history, flagged, date):
    esc = html.escape
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>vipcheck nightly {esc(date)}</title>",
             "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #999;padding:4px 8px;text-align:right}th{background:#eee}"
             ".regression{background:#fdd;border:2px solid #c00;padding:1em}.ok{color:#070}</style></head>",
             # Marks how many plots the browser decoded, so a test can tell a page that renders.
             "<body onload=\"document.body.dataset.renderedPlots=[...document.images]"
             ".filter(i=>i.complete&&i.naturalWidth>0).length\">",
             f"<h1>vipcheck nightly convergence report, {esc(date)}</h1>",
             f"<p>Matrix <b>{esc(report['matrix'])}</b>: {len(report['cells'])} cells.</p>"]
    head, others = report["figures"][0], report["figures"][1:]  # the design's figures, headline first
    words = esc(head["words"])
    if flagged:
        items = "".join(f"<li>{esc(f['cell'])}: median {words} {f['median_ms']:.1f} ms against "
                        f"{f['baseline_ms']:.1f} ms over the last {f['nights']} nights</li>" for f in flagged)
        parts.append(f"<div class='regression' id='regressions'><h2>Regressions</h2><ul>{items}</ul></div>")
    else:
        parts.append("<p class='ok' id='regressions'>No regression against the last seven nights.</p>")
    broken = [c for c in report["cells"] if c.get("failed_for_certain")]
    if broken:
        items = "".join(f"<li>{esc(c['failure'])} / {esc(c['profile'])}: {esc(', '.join(c['failed_for_certain']))}</li>"
                        for c in broken)
        parts.append(f"<div class='regression' id='broken'><h2>Broken invariants</h2><ul>{items}</ul></div>")
    if report.get("known_defects"):
        rows = "".join(f"<tr><td>{esc(d['scenario'])}</td><td style='text-align:left'>{esc(d['defect'])}</td>"
                       f"<td>{esc(d['fixed_in'])}</td><td>{esc(d['state'])}</td>"
                       f"<td>{esc(', '.join(d['failed_checks']) or '-')}</td></tr>" for d in report["known_defects"])
        parts.append("<h2>Known defects</h2><p>Defects of the daemons, run each night to see whether they are "
                     "still there; they do not turn the report red.</p><table id='known-defects'><tr><th>scenario</th>"
                     f"<th>defect</th><th>fixed in</th><th>tonight</th><th>failed checks</th></tr>{rows}</table>")
    statistics = ("min", "median", "p95", "max")
    header = "".join(f"<th>{words} {s}</th>" for s in statistics) + \
        "".join(f"<th>{esc(f['words'])} median</th>" for f in others)
    for failure in dict.fromkeys(c["failure"] for c in report["cells"]):
        parts.append(f"<h2>{esc(failure)}</h2><table><tr><th>profile</th><th>runs passed</th>{header}"
                     "<th>failed checks</th></tr>")
        for c in (c for c in report["cells"] if c["failure"] == failure):
            headline = c["figures"].get(head["figure"], {})
            values = [headline.get(s) for s in statistics] + \
                [c["figures"].get(f["figure"], {}).get("median") for f in others]
            parts.append(f"<tr><td>{esc(c['profile'])}</td><td>{c['passed']}/{c['runs']}</td>"
                         + "".join(f"<td>{_fmt(value)}</td>" for value in values)
                         + f"<td>{esc(', '.join(c['failed_checks']) or '-')}</td></tr>")
        parts.append("</table>")
    if report.get("connections"):
        parts.append(connections_table(report["connections"]))
    parts.append(f"<h2>{words.capitalize()}</h2>" + box_plot(report))
    if report.get("timeline"):
        parts.append("<h2>One failure, millisecond by millisecond</h2>" + timeline_plot(report["timeline"]))
    parts.append("<h2>Trend</h2>" + trend_plot(history, head["words"]))
    parts.append("</body></html>")
    return "".join(parts)
