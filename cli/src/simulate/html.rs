//! The report as one self-contained HTML page: the tables, and hand-drawn inline SVG charts of
//! the tier distribution, the credits over time (burn-down) and the outcomes. No scripts, no
//! external resources.

use std::fmt::Write as _;

use super::report::{Report, usd};

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const COLOURS: [&str; 6] = ["#2f6db5", "#e08a1e", "#3a9a5b", "#c0392b", "#8e44ad", "#7f8c8d"];

/// Vertical grouped bars: approvals per tier, one bar per pool.
fn tier_chart(report: &Report) -> String {
    let (w, h, left, bottom, top) = (520.0, 260.0, 50.0, 30.0, 20.0);
    let max = report
        .tiers
        .iter()
        .map(|t| t.innovation_sandbox.max(t.bedrock_poc))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let plot_h = h - bottom - top;
    let group = (w - left - 10.0) / report.tiers.len().max(1) as f64;
    let mut s = format!(
        r##"<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="approvals by tier"><line x1="{left}" y1="{y0}" x2="{w}" y2="{y0}" stroke="#444"/>"##,
        y0 = h - bottom
    );
    for (i, tier) in report.tiers.iter().enumerate() {
        let x = left + group * i as f64;
        for (j, (count, colour)) in [(tier.innovation_sandbox, COLOURS[0]), (tier.bedrock_poc, COLOURS[1])]
            .iter()
            .enumerate()
        {
            let bar_h = plot_h * *count as f64 / max;
            let bx = x + group * 0.15 + j as f64 * group * 0.35;
            let _ = write!(
                s,
                r#"<rect x="{bx:.1}" y="{:.1}" width="{:.1}" height="{bar_h:.1}" fill="{colour}"><title>{count}</title></rect><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">{count}</text>"#,
                h - bottom - bar_h,
                group * 0.33,
                bx + group * 0.165,
                h - bottom - bar_h - 4.0
            );
        }
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle">${}K</text>"#,
            x + group / 2.0,
            h - bottom + 18.0,
            tier.tier_usd / 1000
        );
    }
    let _ = write!(
        s,
        r#"<rect x="{}" y="4" width="10" height="10" fill="{}"/><text x="{}" y="13" font-size="11">innovation_sandbox</text><rect x="{}" y="4" width="10" height="10" fill="{}"/><text x="{}" y="13" font-size="11">bedrock_poc</text></svg>"#,
        left,
        COLOURS[0],
        left + 14.0,
        left + 140.0,
        COLOURS[1],
        left + 154.0
    );
    s
}

/// Lines over the simulated days: issued, held (the balance), consumed, and what was taken back.
fn burn_down_chart(report: &Report) -> String {
    let (w, h, left, bottom, top, right) = (760.0, 320.0, 80.0, 34.0, 28.0, 16.0);
    let points = &report.burn_down;
    let max_day = points.last().map(|p| p.day).unwrap_or(0).max(1) as f64;
    let max_usd = points
        .iter()
        .map(|p| p.money.issued.max(p.money.consumed))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let x = |day: i64| left + (w - left - right) * day as f64 / max_day;
    let y = |usd_: i64| h - bottom - (h - bottom - top) * usd_ as f64 / max_usd;
    let mut s =
        format!(r#"<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="credits over time">"#);
    for i in 0..=4 {
        let v = (max_usd * f64::from(i) / 4.0) as i64;
        let _ = write!(
            s,
            r##"<line x1="{left}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"##,
            w - right,
            left - 6.0,
            y(v) + 4.0,
            usd(v),
            y = y(v)
        );
    }
    let mut day = 0;
    while day as f64 <= max_day {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{}" font-size="11" text-anchor="middle">day {day}</text>"#,
            x(day),
            h - bottom + 18.0
        );
        day += 56;
    }
    type Series<'a> = (&'a str, &'a str, fn(&super::report::Money) -> i64);
    let series: [Series; 5] = [
        ("issued", COLOURS[0], |m| m.issued),
        ("balance held", COLOURS[1], |m| m.held),
        ("consumed", COLOURS[2], |m| m.consumed),
        ("clawed back + forfeited", COLOURS[3], |m| m.clawed_back + m.forfeited),
        ("expired", COLOURS[5], |m| m.expired),
    ];
    for (i, (label, colour, get)) in series.iter().enumerate() {
        let path: Vec<String> = points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.day), y(get(&p.money))))
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/><rect x="{}" y="6" width="10" height="10" fill="{colour}"/><text x="{}" y="15" font-size="11">{label}</text>"#,
            path.join(" "),
            left + 130.0 * i as f64,
            left + 14.0 + 130.0 * i as f64
        );
    }
    s.push_str("</svg>");
    s
}

/// Horizontal bars: the applications by outcome.
fn outcome_chart(report: &Report) -> String {
    let rows: Vec<_> = report.outcomes.iter().filter(|c| c.count > 0).collect();
    let (w, row_h, label_w) = (760.0, 22.0, 330.0);
    let h = row_h * rows.len() as f64 + 10.0;
    let max = rows.iter().map(|c| c.count).max().unwrap_or(0).max(1) as f64;
    let mut s = format!(r#"<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="outcomes">"#);
    for (i, c) in rows.iter().enumerate() {
        let y = 5.0 + row_h * i as f64;
        let bar = (w - label_w - 60.0) * c.count as f64 / max;
        let colour = if c.label.starts_with("graduated") {
            COLOURS[2]
        } else if c.label.starts_with("rejected") || c.label.starts_with("clawed") {
            COLOURS[3]
        } else if c.label.starts_with("redirected") {
            COLOURS[1]
        } else {
            COLOURS[0]
        };
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="end">{}</text><rect x="{label_w}" y="{y:.1}" width="{bar:.1}" height="{:.1}" fill="{colour}"/><text x="{:.1}" y="{:.1}" font-size="12">{}</text>"#,
            label_w - 8.0,
            y + 14.0,
            escape(&c.label),
            row_h - 6.0,
            label_w + bar + 6.0,
            y + 14.0,
            c.count
        );
    }
    s.push_str("</svg>");
    s
}

fn table(head: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut s = String::from("<table><thead><tr>");
    for h in head {
        let _ = write!(s, "<th>{}</th>", escape(h));
    }
    s.push_str("</tr></thead><tbody>");
    for row in rows {
        s.push_str("<tr>");
        for cell in row {
            let _ = write!(s, "<td>{}</td>", escape(&cell));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    s
}

/// The whole page.
pub fn render(report: &Report) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sandpiper cohort simulation, seed {seed}</title><style>
body{{font-family:system-ui,sans-serif;margin:2em auto;max-width:820px;color:#222}}
table{{border-collapse:collapse;margin:.5em 0 1.5em}}td,th{{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}}
td:first-child,th:first-child{{text-align:left}}.outside{{color:#c0392b;font-weight:bold}}.within{{color:#3a9a5b}}
h2{{margin-top:1.6em}}</style></head><body>
<h1>Sandpiper cohort simulation</h1>
<p>Seed {seed} · {filed} applications filed on {start} · {days} simulated days · {linked} linked Bedrock POC applications (C3) · {drafts} graduation drafts (G2) · {actions} team actions · {events} events</p>"#,
        seed = report.seed,
        filed = report.filed,
        start = report.start,
        days = report.simulated_days,
        linked = report.linked,
        drafts = report.graduation_drafts,
        actions = report.team_actions,
        events = report.events,
    );
    s.push_str("<h2>Against DOMAIN §10</h2><table><thead><tr><th>figure</th><th>simulated</th><th>of</th><th>reference</th><th></th></tr></thead><tbody>");
    for r in &report.rates {
        let reference = match r.reference {
            Some((low, high)) if (low - high).abs() < f64::EPSILON => format!("{low:.0}%"),
            Some((low, high)) => format!("{low:.0}–{high:.0}%"),
            None => "-".into(),
        };
        let (class, mark) = match r.within() {
            Some(true) => ("within", "within"),
            Some(false) => ("outside", "outside"),
            None => ("", ""),
        };
        let _ = write!(
            s,
            r#"<tr><td>{}</td><td>{:.1}%</td><td>{}/{}</td><td>{reference}</td><td class="{class}">{mark}</td></tr>"#,
            escape(&r.figure),
            r.simulated.percent(),
            r.simulated.numerator,
            r.simulated.denominator
        );
    }
    s.push_str("</tbody></table>");

    s.push_str("<h2>Outcomes</h2>");
    s.push_str(&outcome_chart(report));
    s.push_str(&table(
        &["final state", "applications"],
        report
            .states
            .iter()
            .map(|c| vec![c.label.clone(), c.count.to_string()])
            .collect(),
    ));

    s.push_str("<h2>Tiers</h2>");
    s.push_str(&tier_chart(report));
    s.push_str(&table(
        &[
            "pool",
            "applications",
            "approved",
            "rejected",
            "redirected",
            "engagements",
            "split",
        ],
        report
            .pools
            .iter()
            .map(|p| {
                vec![
                    p.pool.clone(),
                    p.applications.to_string(),
                    p.approved.to_string(),
                    p.rejected.to_string(),
                    p.redirected.to_string(),
                    p.engagements.to_string(),
                    p.split.to_string(),
                ]
            })
            .collect(),
    ));
    s.push_str(&table(
        &["pool", "approvals", "median days to approval", "p90", "max"],
        report
            .approval
            .iter()
            .map(|a| {
                vec![
                    a.pool.clone(),
                    a.approvals.to_string(),
                    format!("{:.1}", a.median_days),
                    format!("{:.1}", a.p90_days),
                    format!("{:.1}", a.max_days),
                ]
            })
            .collect(),
    ));

    s.push_str("<h2>Credits over time</h2>");
    s.push_str(&burn_down_chart(report));
    let c = &report.credits;
    s.push_str(&table(
        &["credits", "amount"],
        [
            ("approved (tiers of every engagement)", c.approved),
            ("issued (released tranches)", c.issued),
            ("withheld (TR3)", c.withheld),
            ("consumed", c.consumed),
            ("overage, billed directly (TR7)", c.overage),
            ("clawed back (TR6)", c.clawed_back),
            ("forfeited (G3)", c.forfeited),
            ("expired (TR4)", c.expired),
            ("still held", c.held),
        ]
        .iter()
        .map(|(label, amount)| vec![(*label).to_owned(), usd(*amount)])
        .collect(),
    ));
    s.push_str(
        "<p>Generated by <code>sandpiper simulate</code>; the same seed gives the same figures.</p></body></html>\n",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a < b & \"c\""), "a &lt; b &amp; &quot;c&quot;");
    }
}
