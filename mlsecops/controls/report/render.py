"""The four forms of a risk report: self-contained HTML, canonical JSON, SARIF 2.1.0, Markdown.

Private to `report.py`. The HTML has no external reference of any kind (plots are base64 PNG,
styles are inline, a Content-Security-Policy forbids every fetch), so it reads the same offline.
"""

from __future__ import annotations

import base64
import io
import json
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import jsonschema

from mlsecops.controls.report import atlas as _atlas
from mlsecops.core.outcome import CONTROL_AREAS
from mlsecops.core.errors import ReportError
from mlsecops.core.fileio import canonical_json, sha256_bytes, write_bytes_atomic

if TYPE_CHECKING:
    from mlsecops.controls.report.report import ReportFiles, RiskReport

SARIF_SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "sarif-schema-2.1.0.json"
SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FILE_STEM = "risk_report"

RISK_COLORS = {"none": "#e5e7eb", "low": "#fde68a", "medium": "#f59e0b", "high": "#dc2626", "critical": "#7f1d1d"}
VERDICT_COLORS = {"blocked": "#b91c1c", "review": "#b45309", "clear": "#15803d"}
SARIF_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "2.0"}


def _tool_version() -> str:
    try:
        return version("mlsecops")
    except PackageNotFoundError:
        return "0+unknown"


# ---------------------------------------------------------------- plots

def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _trend_plot(report: RiskReport) -> str:
    from matplotlib.figure import Figure  # no pyplot: no global state, safe in any thread

    trend = report.trend
    x = list(range(len(trend)))
    labels = [f"{s.run_id[:8]}\n{s.at[5:16].replace('T', ' ')}" for s in trend]
    fig = Figure(figsize=(7.0, 4.4))
    top, bottom = fig.subplots(2, 1, sharex=True)
    base = [0] * len(trend)
    for level in ("low", "medium", "high", "critical"):
        counts = [s.risks.get(level, 0) for s in trend]
        top.bar(x, counts, bottom=base, color=RISK_COLORS[level], label=level, width=0.6)
        base = [b + c for b, c in zip(base, counts)]
    top.set_ylabel("failing controls")
    top.set_ylim(0, max(base + [1]) * 1.25)
    top.legend(ncol=4, fontsize=8, loc="upper left", frameon=False)
    top.set_title("Posture over time (oldest run left, this run right)", fontsize=10, loc="left")
    for series, name, style in ((lambda s: s.pass_rate, "controls passed", "-o"),
                                (lambda s: s.area_coverage, "framework areas covered", "-s"),
                                (lambda s: s.technique_coverage, "ATLAS techniques covered", "-^")):
        bottom.plot(x, [100 * series(s) for s in trend], style, label=name, markersize=4)
    bottom.set_ylim(-5, 105)
    bottom.set_ylabel("%")
    bottom.legend(ncol=3, fontsize=8, loc="lower left", frameon=False)
    bottom.set_xticks(x, labels, fontsize=7)
    for ax in (top, bottom):
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def _matrix_plot(report: RiskReport) -> str:
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    sev, lik = _atlas.SEVERITIES, _atlas.LIKELIHOODS[::-1]  # most likely on top
    levels = list(_atlas.RISK_LEVELS)
    grid = [[levels.index(_atlas.risk_level(s, li)) for s in sev] for li in lik]
    fig = Figure(figsize=(4.2, 3.2))
    ax = fig.subplots()
    ax.imshow(grid, cmap=ListedColormap([RISK_COLORS[level] for level in levels]), vmin=0,
              vmax=len(levels) - 1, alpha=0.85)
    for i, li in enumerate(lik):
        for j, s in enumerate(sev):
            failing = sum(f.failed and f.severity == s and f.likelihood == li for f in report.findings)
            passed = sum((not f.failed) and f.severity == s and f.likelihood == li for f in report.findings)
            text = (f"{failing} failing" if failing else "") + ("\n" if failing and passed else "") + \
                (f"{passed} passed" if passed else "")
            ax.text(j, i, text or "·", ha="center", va="center", fontsize=8,
                    color="white" if grid[i][j] >= levels.index("high") else "black",
                    fontweight="bold" if failing else "normal")
    ax.set_xticks(range(len(sev)), sev, fontsize=8)
    ax.set_yticks(range(len(lik)), lik, fontsize=8)
    ax.set_xlabel("severity (impact if the technique succeeds)", fontsize=8)
    ax.set_ylabel("likelihood", fontsize=8)
    ax.set_title("Risk matrix of this run's controls", fontsize=10, loc="left")
    return _png(fig)


# ---------------------------------------------------------------- HTML

_TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ r.verdict|upper }} · risk report · {{ r.pipeline }} · {{ r.run_id }}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #111827; background: #f9fafb; }
main { max-width: 1180px; margin: 0 auto; padding: 18px 24px 40px; }
header.top { display: flex; justify-content: space-between; align-items: baseline; color: #4b5563; font-size: 13px; }
.verdict { color: white; background: {{ verdict_color }}; border-radius: 8px; padding: 18px 22px; margin: 10px 0 14px; }
.verdict h1 { margin: 0; font-size: 26px; }
.verdict p { margin: 6px 0 0; font-size: 15px; opacity: 0.95; }
.tiles { display: grid; grid-template-columns: repeat(5, 1fr); gap: 10px; margin-bottom: 16px; }
.tile { background: white; border: 1px solid #e5e7eb; border-radius: 8px; padding: 10px 12px; }
.tile .n { font-size: 24px; font-weight: 700; }
.tile .l { font-size: 12px; color: #4b5563; }
h2 { font-size: 18px; margin: 22px 0 8px; border-bottom: 2px solid #e5e7eb; padding-bottom: 4px; }
table { border-collapse: collapse; width: 100%; background: white; font-size: 13px; table-layout: fixed; }
th, td { border: 1px solid #e5e7eb; padding: 5px 7px; text-align: left; vertical-align: top; overflow-wrap: anywhere; }
tr.status-pass td { color: #374151; font-size: 12px; }
th { background: #f3f4f6; }
.risk { display: inline-block; min-width: 64px; text-align: center; border-radius: 4px; padding: 1px 6px; font-weight: 700; font-size: 12px; }
.risk-critical { background: #7f1d1d; color: white; } .risk-high { background: #dc2626; color: white; }
.risk-medium { background: #f59e0b; } .risk-low { background: #fde68a; } .risk-none { background: #e5e7eb; }
.pass { color: #15803d; font-weight: 700; } .failtxt { color: #b91c1c; font-weight: 700; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
.muted { color: #6b7280; } .plots { display: flex; gap: 16px; flex-wrap: wrap; align-items: flex-start; }
.plots img { background: white; border: 1px solid #e5e7eb; border-radius: 6px; max-width: 100%; }
.cols { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; align-items: start; }
</style>
</head>
<body><main>
<header class="top"><span>AI security risk assessment · pipeline <b>{{ r.pipeline }}</b> · run <code>{{ r.run_id }}</code></span>
<span>generated {{ r.generated_at }}</span></header>

<section class="verdict" id="verdict">
<h1>{{ r.headline }}</h1>
<p>{% if failing %}Fix first: {% for f in failing[:3] %}<b>{{ f.check }}</b> ({{ f.risk }}{% if f.techniques %}, {{ f.techniques|join(", ") }}{% endif %}){% if not loop.last %}; {% endif %}{% endfor %}{% if failing|length > 3 %}; and {{ failing|length - 3 }} more{% endif %}.
{% else %}Every recorded control met its policy threshold.{% endif %}
{{ " " }}Gaps: {{ area_gaps|length }} framework area(s) and {{ technique_gaps|length }} ATLAS technique(s) have no evidence in this run.</p>
</section>

<section class="tiles">
<div class="tile"><div class="n">{{ s.passed }}/{{ s.checks }}</div><div class="l">controls passed{% if prev %} (previous run {{ prev.passed }}/{{ prev.checks }}){% endif %}</div></div>
<div class="tile"><div class="n"><span class="risk risk-{{ s.highest_risk }}">{{ s.highest_risk }}</span></div><div class="l">highest risk of a failing control (accepted: {{ r.policy.max_risk_level }})</div></div>
<div class="tile"><div class="n">{{ s.risks.critical }} · {{ s.risks.high }} · {{ s.risks.medium }} · {{ s.risks.low }}</div><div class="l">failing: critical · high · medium · low</div></div>
<div class="tile"><div class="n">{{ s.areas_covered }}/{{ s.areas_total }}</div><div class="l">framework areas with evidence (required {{ "%.0f"|format(100 * r.policy.min_area_coverage) }}%)</div></div>
<div class="tile"><div class="n">{{ s.techniques_covered }}/{{ s.techniques_total }}</div><div class="l">ATLAS techniques with evidence</div></div>
</section>

<h2 id="findings">Findings ({{ failing|length }} failing, {{ passing|length }} passed)</h2>
<table>
<colgroup><col style="width:94px"><col style="width:58px"><col style="width:15%"><col style="width:90px"><col style="width:12%"><col style="width:12%"><col style="width:11%"><col style="width:11%"><col style="width:18%"><col style="width:96px"></colgroup>
<tr><th>Risk</th><th>Status</th><th>Control (check)</th><th>Framework area</th><th>ATLAS technique</th><th>Mitigations</th><th>Measured vs threshold</th><th>Severity × likelihood</th><th>Remediation</th><th>Evidence</th></tr>
{% for f in r.findings %}
<tr class="status-{{ f.status }}">
<td><span class="risk risk-{{ f.risk if f.status == 'fail' else 'none' }}">{{ f.risk if f.status == 'fail' else 'mitigated' }}</span></td>
<td>{% if f.status == 'fail' %}<span class="failtxt">FAIL</span>{% else %}<span class="pass">pass</span>{% endif %}</td>
<td><b>{{ f.check }}</b><br><span class="muted">{{ f.detail }}</span></td>
<td>{{ f.control }}</td>
<td>{% for t in f.techniques %}<code>{{ t }}</code> {{ technique_names.get(t, "") }}<br>{% else %}<span class="muted">none named</span>{% endfor %}</td>
<td>{% for m in f.mitigations %}<code>{{ m }}</code> {{ mitigation_names.get(m, "") }}<br>{% else %}{% if not f.mitigation_note %}<span class="muted">none</span>{% endif %}{% endfor %}{% if f.mitigation_note %}<span class="muted">{{ f.mitigation_note }}</span>{% endif %}</td>
<td class="mono">{{ f.value }} vs {{ f.threshold }}<br><span class="muted">{{ f.policy_key }}</span></td>
<td>{{ f.severity }} × {{ f.likelihood }}{% if f.status == 'fail' %}<br><span class="muted">{{ f.rationale }}</span>{% endif %}</td>
<td>{% if f.status == 'fail' %}{{ f.remediation }}{% else %}<span class="muted">—</span>{% endif %}</td>
<td class="mono" title="{{ f.evidence_path }}">{{ f.evidence[:12] }}…</td>
</tr>
{% else %}
<tr><td colspan="10"><b>No control outcomes were recorded for this run.</b></td></tr>
{% endfor %}
</table>

<h2 id="gaps">Gap analysis: what no evidence covers</h2>
<div class="cols">
<table><tr><th>Framework area without evidence</th><th>What would cover it</th></tr>
{% for g in area_gaps %}<tr><td><b>{{ g.name }}</b></td><td>{{ g.hint }}</td></tr>
{% else %}<tr><td colspan="2" class="pass">Every framework area has evidence.</td></tr>{% endfor %}
</table>
<table><tr><th>ATLAS technique not assessed</th><th>Severity</th><th>What would cover it</th></tr>
{% for g in technique_gaps %}<tr><td><code>{{ g.id }}</code> {{ g.name }}</td><td><span class="risk risk-{{ g.severity }}">{{ g.severity }}</span></td><td>{{ g.hint }}</td></tr>
{% else %}<tr><td colspan="3" class="pass">Every technique in scope is assessed.</td></tr>{% endfor %}
</table>
</div>

<h2 id="coverage">Coverage by framework area</h2>
<table><tr><th>Area</th><th>Checks</th><th>Failing</th><th>Highest risk</th></tr>
{% for a in areas %}<tr><td>{{ a.name }}</td><td>{{ a.checks }}</td><td>{{ a.failing }}</td><td>{% if a.checks %}<span class="risk risk-{{ a.highest }}">{{ a.highest }}</span>{% else %}<span class="failtxt">gap</span>{% endif %}</td></tr>
{% endfor %}</table>

<h2 id="trend">Posture over time ({{ r.trend|length }} run{{ "s" if r.trend|length != 1 }})</h2>
<div class="plots">
<img alt="posture trend" src="data:image/png;base64,{{ trend_png }}">
<img alt="risk matrix" src="data:image/png;base64,{{ matrix_png }}">
</div>
<table>
<tr><th>Run</th><th>Started</th><th>Passed</th><th>Failed</th><th>Highest risk</th><th>Areas covered</th><th>Techniques covered</th></tr>
{% for t in r.trend|reverse %}<tr><td><code>{{ t.run_id }}</code>{% if loop.first %} <b>(this run)</b>{% endif %}</td><td>{{ t.at }}</td><td>{{ t.passed }}/{{ t.checks }}</td><td>{{ t.failed }}</td><td><span class="risk risk-{{ t.highest_risk }}">{{ t.highest_risk }}</span></td><td>{{ t.areas_covered }}/{{ t.areas_total }}</td><td>{{ t.techniques_covered }}/{{ t.techniques_total }}</td></tr>
{% endfor %}
</table>

<h2 id="evidence">Evidence inventory ({{ r.evidence|length }} documents)</h2>
<table><tr><th>Step</th><th>Written at</th><th>sha256</th><th>Path under the evidence store</th></tr>
{% for d in r.evidence %}<tr><td>{{ d.step }}</td><td>{{ d.written_at }}</td><td class="mono">{{ d.sha256 }}</td><td class="mono">{{ d.path }}</td></tr>
{% endfor %}</table>

<h2 id="method">How to read this report</h2>
<p class="muted">Each control check of the run is a finding. Severity is the impact if the ATLAS technique it guards
against succeeds (policy <code>report.severity</code> overrides it); likelihood is judged from the measurement: a passed
control is <i>rare</i>, a failed one <i>likely</i>, and <i>almost certain</i> when the measured value misses the threshold
by 100% of the threshold or more. Risk = severity × likelihood on a 4×4 matrix. Areas are those of the AI security risk
assessment framework; techniques and mitigations are MITRE ATLAS ids. Policy digest of the report section:
<code>{{ policy_digest[:16] }}</code>. Tool: mlsecops {{ tool_version }}.</p>
</main></body></html>
"""


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    return env.from_string(_TEMPLATE)


def render_html(report: RiskReport) -> str:
    failing = [f for f in report.findings if f.failed]
    areas = []
    for area in CONTROL_AREAS:
        mine = [f for f in report.findings if f.control == area]
        bad = [f for f in mine if f.failed]
        highest = max((f.risk for f in bad), key=_atlas.RISK_LEVELS.index, default="none")
        areas.append({"name": area, "checks": len(mine), "failing": len(bad), "highest": highest})
    return _template().render(
        r=report, s=report.posture, failing=failing, passing=[f for f in report.findings if not f.failed],
        prev=report.trend[-2] if len(report.trend) > 1 else None,
        area_gaps=[g for g in report.gaps if g.kind == "control area"],
        technique_gaps=[g for g in report.gaps if g.kind == "ATLAS technique"],
        areas=areas, verdict_color=VERDICT_COLORS[report.verdict],
        technique_names={t: v.name for t, v in _atlas.TECHNIQUES.items()},
        mitigation_names=_atlas.MITIGATIONS, trend_png=_trend_plot(report), matrix_png=_matrix_plot(report),
        policy_digest=sha256_bytes(canonical_json(report.policy)), tool_version=_tool_version())


# ---------------------------------------------------------------- Markdown

def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: RiskReport, max_rows: int = 8) -> str:
    s = report.posture
    lines = [f"**{report.headline}**", "",
             f"Pipeline `{report.pipeline}`, run `{report.run_id}`: {s.passed}/{s.checks} controls passed; "
             f"evidence covers {s.areas_covered}/{s.areas_total} framework areas and "
             f"{s.techniques_covered}/{s.techniques_total} ATLAS techniques.", ""]
    failing = [f for f in report.findings if f.failed]
    if failing:
        lines += ["| Risk | Control | Area | ATLAS | Measured vs threshold |", "|---|---|---|---|---|"]
        lines += [f"| {f.risk} | {_cell(f.check)} | {f.control} | {', '.join(f.techniques) or '-'} | "
                  f"{_cell(f.value)} vs {_cell(f.threshold)} |" for f in failing[:max_rows]]
        if len(failing) > max_rows:
            lines.append(f"| … | {len(failing) - max_rows} more | | | |")
        lines.append("")
    area_gaps = [g.name for g in report.gaps if g.kind == "control area"]
    technique_gaps = [g.id for g in report.gaps if g.kind == "ATLAS technique"]
    lines.append(f"Gaps: areas without evidence: {', '.join(area_gaps) or 'none'}; "
                 f"techniques not assessed: {', '.join(technique_gaps) or 'none'}.")
    if len(report.trend) > 1:
        recent = report.trend[-5:]
        lines += ["", f"Trend (last {len(recent)} runs, oldest first): passed "
                  + " → ".join(f"{t.passed}/{t.checks}" for t in recent) + "; highest risk "
                  + " → ".join(t.highest_risk for t in recent) + "."]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- SARIF

def _rule_id(check: str) -> str:
    return f"mlsecops/{check}"


def render_sarif(report: RiskReport) -> dict[str, Any]:
    """SARIF 2.1.0: one rule per control, one result per check outcome, ATLAS and the framework as taxonomies."""
    rules, index = [], {}
    for f in report.findings:
        if f.check in index:
            continue
        index[f.check] = len(rules)
        tags = ["security", "ml-security", f.control, *f.techniques]
        relationships = [{"target": {"id": t, "toolComponent": {"name": "MITRE ATLAS"}}, "kinds": ["relevant"]}
                         for t in f.techniques]
        relationships.append({"target": {"id": f.control, "toolComponent": {"name": "AI security risk assessment"}},
                              "kinds": ["relevant"]})
        rules.append({
            "id": _rule_id(f.check), "name": f.check,
            "shortDescription": {"text": f"Control '{f.check}' ({f.control}; policy key {f.policy_key})"},
            "fullDescription": {"text": "Guards against " + (", ".join(
                f"{t} {_atlas.TECHNIQUES[t].name}" if t in _atlas.TECHNIQUES else t for t in f.techniques)
                or "no named ATLAS technique") + f"; mitigations {', '.join(f.mitigations) or 'none named'}."},
            "help": {"text": f.remediation, "markdown": f"**Remediation:** {f.remediation}"},
            "defaultConfiguration": {"level": SARIF_LEVEL[_atlas.risk_level(f.severity, "likely")]},
            "relationships": relationships,
            "properties": {"tags": tags, "security-severity": SECURITY_SEVERITY[f.severity],
                           "controlArea": f.control, "atlasTechniques": list(f.techniques),
                           "atlasMitigations": list(f.mitigations), "policyKey": f.policy_key},
        })
    results = []
    for f in report.findings:
        results.append({
            "ruleId": _rule_id(f.check), "ruleIndex": index[f.check],
            "kind": "fail" if f.failed else "pass",
            "level": SARIF_LEVEL[f.risk] if f.failed else "none",
            "message": {"text": (f"{f.check} failed ({f.risk} risk: {f.severity} × {f.likelihood}): {f.detail}. "
                                 f"Remediation: {f.remediation}") if f.failed else f"{f.check} passed: {f.detail}"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": f"evidence/{f.evidence_path}",
                                                                     "uriBaseId": "MLSECOPS_HOME"}}}],
            "partialFingerprints": {"mlsecopsControl/v1": f"{report.pipeline}/{f.check}"},
            "taxa": [{"id": t, "toolComponent": {"name": "MITRE ATLAS"}} for t in f.techniques],
            "properties": {"risk": f.risk, "severity": f.severity, "likelihood": f.likelihood,
                           "value": f.value, "threshold": f.threshold, "evidenceSha256": f.evidence,
                           "controlArea": f.control},
        })
    techniques = sorted({t for f in report.findings for t in f.techniques} | set(_atlas.TECHNIQUES))
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "mlsecops", "version": _tool_version(), "rules": rules}},
            "automationDetails": {"id": f"mlsecops/{report.pipeline}/{report.run_id}"},
            "invocations": [{"executionSuccessful": True}],
            "taxonomies": [
                {"name": "MITRE ATLAS", "organization": "MITRE",
                 "shortDescription": {"text": "Adversarial Threat Landscape for AI Systems"},
                 "taxa": [{"id": t, "name": _atlas.TECHNIQUES[t].name if t in _atlas.TECHNIQUES else t}
                          for t in techniques]},
                {"name": "AI security risk assessment",
                 "shortDescription": {"text": "Control areas of the AI security risk assessment framework"},
                 "taxa": [{"id": a, "name": a} for a in CONTROL_AREAS]},
            ],
            "results": results,
            "properties": {"verdict": report.verdict, "headline": report.headline,
                           "gaps": [{"kind": g.kind, "id": g.id, "name": g.name} for g in report.gaps]},
        }],
    }


@lru_cache(maxsize=1)
def sarif_validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SARIF_SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def validate_sarif(doc: dict[str, Any]) -> None:
    errors = sorted(sarif_validator().iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        where = "/".join(str(p) for p in errors[0].path)
        raise ReportError(f"SARIF output is not valid SARIF 2.1.0 ({len(errors)} error(s)); first at "
                          f"'{where}': {errors[0].message}")


# ---------------------------------------------------------------- files

def write_all(report: RiskReport, folder: Path) -> ReportFiles:
    from mlsecops.controls.report.report import ReportFiles

    sarif = render_sarif(report)
    validate_sarif(sarif)
    contents = {
        f"{FILE_STEM}.json": canonical_json(report.to_dict()),
        f"{FILE_STEM}.sarif": json.dumps(sarif, indent=2, ensure_ascii=False, allow_nan=False).encode(),
        f"{FILE_STEM}.md": render_markdown(report).encode(),
        f"{FILE_STEM}.html": render_html(report).encode(),
    }
    for name, data in contents.items():
        write_bytes_atomic(folder / name, data)
    return ReportFiles(html=folder / f"{FILE_STEM}.html", json=folder / f"{FILE_STEM}.json",
                       sarif=folder / f"{FILE_STEM}.sarif", markdown=folder / f"{FILE_STEM}.md",
                       sha256={name: sha256_bytes(data) for name, data in contents.items()})
