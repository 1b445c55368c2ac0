#!/usr/bin/env python3
"""Checks deploy/monitoring against the code (run by ./scripts/validate-deploy).

- The dashboard is a well-formed Grafana dashboard: uid, title, schemaVersion, a Prometheus
  datasource variable every panel and query uses, unique panel ids, grid positions inside the
  24-column grid, every target with a refId and an expr.
- Every PromQL expression (dashboard targets and variables, alert rules) names only metrics that
  exist: the sandpiper_* series that shared/runtime/src/metrics.rs registers (counters with
  `_total`, histograms with `_bucket`/`_sum`/`_count`), plus `up` and the kube-state-metrics
  series listed in EXTERNAL; label names in matchers and `by`/`on` clauses must exist too.
- Every registered metric appears on the dashboard.
- Every alert has a severity and a summary; the PrometheusRule of the monitoring component embeds
  exactly the groups of sandpiper-alerts.yaml.
- With --promql-rules FILE it writes each dashboard expression as a recording rule (Grafana
  variables replaced by sample values) so `promtool check rules FILE` parses them all.

Usage: check.py ROOT [--promql-rules FILE]
       check.py ROOT --write-prometheus-rule   (after editing sandpiper-alerts.yaml)
"""

import json
import re
import sys
from pathlib import Path

import yaml

# Series from outside Sandpiper the dashboard and alerts may use, with their labels.
EXTERNAL = {
    "up": {"job", "instance", "namespace", "pod"},
    "kube_deployment_status_replicas_available": {"namespace", "deployment"},
    "kube_deployment_spec_replicas": {"namespace", "deployment"},
}
# Labels the scrape adds to every series (Prometheus Operator / the usual pod scrape config).
TARGET_LABELS = {"job", "instance", "namespace", "pod"}
KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
    "unless", "offset", "inf", "nan", "atan2",
}
GRAFANA_VARS = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "3h",
    "$namespace": ".*",
    "$service": ".*",
}

errors = []


def fail(message):
    if message not in errors:
        errors.append(message)


def registered_metrics(root):
    """{series name: labels} for every metric metrics.rs registers."""
    source = (root / "shared/runtime/src/metrics.rs").read_text()
    fields = dict(re.findall(r"pub (\w+): ([^\n]+),\n", source))
    kinds = {"Counter": "counter", "Gauge": "gauge", "Histograms": "histogram"}
    labels = set()
    for path in list((root / "shared").rglob("*.rs")) + list((root / "services").rglob("*.rs")):
        text = path.read_text()
        for call in re.finditer(r"labels\(&\[(.*?)\]\)", text, re.S):
            labels.update(re.findall(r'\(\s*"(\w+)"\s*,', call.group(1)))
    series = {}
    registered = re.findall(r'\.register\(\s*"(\w+)",\s*"[^"]*",\s*(\w+)\.clone\(\)', source, re.S)
    if len(registered) < 5:
        fail(f"metrics.rs: found only {len(registered)} registered metrics; has the registration changed?")
    for name, field in registered:
        declared = fields.get(field, "")
        kind = next((k for word, k in kinds.items() if re.search(rf"\b{word}\b", declared)), None)
        if kind is None:
            fail(f"metrics.rs: cannot tell the type of {name} ({field}: {declared!r})")
            continue
        if kind == "counter":
            series[name + "_total"] = set(labels)
        elif kind == "gauge":
            series[name] = set(labels)
        else:
            for suffix in ("_bucket", "_sum", "_count"):
                series[name + suffix] = set(labels) | ({"le"} if suffix == "_bucket" else set())
    return series, {name for name, _ in registered}


def substitute(expr):
    for var, value in sorted(GRAFANA_VARS.items(), key=lambda kv: -len(kv[0])):
        expr = expr.replace("${" + var[1:] + "}", value).replace(var, value)
    if "$" in expr:
        fail(f"unknown Grafana variable in: {expr}")
    return expr


def check_expr(where, expr, known):
    """The metric names an expression uses; unknown metrics and labels are errors."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', substitute(expr))
    used = set()
    labels_in_clauses = set()
    for clause in re.finditer(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", text):
        labels_in_clauses.update(l.strip() for l in clause.group(1).split(",") if l.strip())
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    selectors = []
    for m in re.finditer(r"(?<![\w.:])([A-Za-z_:][\w:]*)?\s*\{([^}]*)\}", text):
        selectors.append((m.group(1), re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", m.group(2))))
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    for m in re.finditer(r"(?<![\w.:])([A-Za-z_:][\w:]*)(\s*\()?", text):
        name, call = m.group(1), m.group(2)
        if call or name in KEYWORDS:
            continue
        if name not in known:
            fail(f"{where}: unknown metric {name} in: {expr.strip()}")
        used.add(name)
    all_labels = set().union(*(known[n] for n in used if n in known), TARGET_LABELS) if used else TARGET_LABELS
    for metric, labels in selectors:
        allowed = (known.get(metric, set()) | TARGET_LABELS) if metric else all_labels
        for label in labels:
            if label not in allowed:
                fail(f"{where}: label {label} is not on {metric or 'these series'}: {expr.strip()}")
    for label in labels_in_clauses:
        if label not in all_labels:
            fail(f"{where}: label {label} in a by/on clause exists on none of {sorted(used)}")
    if not used:
        fail(f"{where}: no metric in: {expr.strip()}")
    return used


def check_dashboard(path, known):
    dash = json.loads(path.read_text())
    for key, kind in (("title", str), ("uid", str), ("schemaVersion", int), ("panels", list), ("templating", dict)):
        if not isinstance(dash.get(key), kind):
            fail(f"{path.name}: {key} missing or not a {kind.__name__}")
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        fail(f"{path.name}: no datasource variable of type prometheus")
    exprs = []
    for name, var in variables.items():
        if var.get("type") == "query":
            if var.get("datasource", {}).get("uid") != "${datasource}":
                fail(f"{path.name}: variable {name} does not use ${{datasource}}")
            query = var.get("query", {})
            query = query.get("query", "") if isinstance(query, dict) else query
            m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query)
            if not m:
                fail(f"{path.name}: variable {name}: expected label_values(metric, label), got {query!r}")
                continue
            exprs.append((f"variable {name}", f"sum by ({m.group(2)}) ({m.group(1)})"))
    ids, cells = set(), {}
    for panel in dash.get("panels", []):
        title = panel.get("title", "?")
        pid = panel.get("id")
        if not isinstance(pid, int) or pid in ids:
            fail(f"{path.name}: panel {title!r}: id missing or repeated")
        ids.add(pid)
        grid = panel.get("gridPos", {})
        if not all(isinstance(grid.get(k), int) for k in "hwxy") or grid["x"] < 0 or grid["x"] + grid["w"] > 24:
            fail(f"{path.name}: panel {title!r}: bad gridPos {grid}")
        else:
            for x in range(grid["x"], grid["x"] + grid["w"]):
                for y in range(grid["y"], grid["y"] + grid["h"]):
                    if (x, y) in cells:
                        fail(f"{path.name}: panel {title!r} overlaps {cells[(x, y)]!r}")
                        break
                    cells[(x, y)] = title
                else:
                    continue
                break
        if panel.get("type") == "row":
            continue
        if not panel.get("type"):
            fail(f"{path.name}: panel {title!r} has no type")
        if panel.get("datasource", {}).get("uid") != "${datasource}":
            fail(f"{path.name}: panel {title!r} does not use ${{datasource}}")
        targets = panel.get("targets") or []
        if not targets:
            fail(f"{path.name}: panel {title!r} has no queries")
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs) or not all(refs):
            fail(f"{path.name}: panel {title!r}: refIds missing or repeated")
        for target in targets:
            if target.get("datasource", {}).get("uid") != "${datasource}":
                fail(f"{path.name}: panel {title!r} query {target.get('refId')} does not use ${{datasource}}")
            if not target.get("expr"):
                fail(f"{path.name}: panel {title!r} query {target.get('refId')} has no expr")
            else:
                exprs.append((f"panel {title!r}", target["expr"]))
    used = set()
    for where, expr in exprs:
        used |= check_expr(f"{path.name}: {where}", expr, known)
    return exprs, used, len(dash.get("panels", []))


def check_alerts(path, known):
    doc = yaml.safe_load(path.read_text())
    names, used = set(), set()
    for group in doc.get("groups", []):
        for rule in group.get("rules", []):
            name = rule.get("alert") or rule.get("record")
            if name in names:
                fail(f"{path.name}: {name} defined twice")
            names.add(name)
            if rule.get("alert"):
                if rule.get("labels", {}).get("severity") not in {"critical", "warning", "info"}:
                    fail(f"{path.name}: {name} needs labels.severity (critical, warning or info)")
                if not rule.get("annotations", {}).get("summary"):
                    fail(f"{path.name}: {name} needs annotations.summary")
            used |= check_expr(f"{path.name}: {name}", rule.get("expr", ""), known)
    return doc, names, used


RULE_HEADER = """\
# The alerts of deploy/monitoring/sandpiper-alerts.yaml as a Prometheus Operator PrometheusRule.
# Generated: edit the rule file, then run `deploy/monitoring/check.py . --write-prometheus-rule`.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: sandpiper
  labels:
    app.kubernetes.io/part-of: sandpiper
spec:
"""


def write_prometheus_rule(root):
    lines = (root / "deploy/monitoring/sandpiper-alerts.yaml").read_text().splitlines()
    start = lines.index("groups:")
    body = "\n".join(("  " + line) if line else "" for line in lines[start:])
    (root / "deploy/k8s/components/monitoring/prometheus-rule.yaml").write_text(RULE_HEADER + body + "\n")


def main():
    root = Path(sys.argv[1]).resolve()
    if "--write-prometheus-rule" in sys.argv:
        write_prometheus_rule(root)
        return
    promql_rules = sys.argv[sys.argv.index("--promql-rules") + 1] if "--promql-rules" in sys.argv else None
    series, metric_names = registered_metrics(root)
    known = dict(series)
    known.update(EXTERNAL)
    monitoring = root / "deploy/monitoring"
    exprs, dash_used, panels = check_dashboard(monitoring / "sandpiper-dashboard.json", known)
    for metric in sorted(metric_names):
        if not any(s.startswith(metric) for s in dash_used):
            fail(f"sandpiper-dashboard.json: no panel shows {metric}")
    alerts, alert_names, _ = check_alerts(monitoring / "sandpiper-alerts.yaml", known)
    rule_path = root / "deploy/k8s/components/monitoring/prometheus-rule.yaml"
    rule = yaml.safe_load(rule_path.read_text())
    if rule.get("kind") != "PrometheusRule" or rule.get("spec", {}).get("groups") != alerts.get("groups"):
        fail(f"{rule_path.relative_to(root)}: spec.groups must equal the groups of deploy/monitoring/sandpiper-alerts.yaml "
             "(regenerate: deploy/monitoring/check.py . --write-prometheus-rule)")
    if promql_rules:
        rules = [{"record": f"sandpiper_dashboard:check_{i}", "expr": substitute(expr)} for i, (_, expr) in enumerate(exprs)]
        Path(promql_rules).write_text(yaml.safe_dump({"groups": [{"name": "dashboard-exprs", "rules": rules}]}))
    if errors:
        for message in errors:
            print(f"check-monitoring: {message}", file=sys.stderr)
        sys.exit(1)
    print(
        f"check-monitoring: dashboard {panels} panels, {len(exprs)} queries; {len(alert_names)} alerts; "
        f"all name existing metrics ({len(metric_names)} registered, all on the dashboard)"
    )


if __name__ == "__main__":
    main()
