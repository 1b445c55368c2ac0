//! The burn-down chart: the credit balance over the window, drawn as SVG on the server.
//!
//! The points come from folding the application's history one event at a time with the same
//! fold the read model uses, so the chart's balance after each event is the balance the API
//! showed then. The SVG holds only numbers and fixed words (no partner text), and draws with
//! presentation attributes, so it passes a policy without inline styles.

use chrono::{DateTime, Utc};
use sandpiper_contracts::engagement::Window;
use sandpiper_contracts::events::Envelope;
use sandpiper_contracts::view::ApplicationView;

use crate::display;

/// The balance after an event that changed the credits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    pub at: DateTime<Utc>,
    pub balance_usd: i64,
    pub consumed_usd: i64,
    /// The event that moved it (`consumption_recorded`, `tranche_released`, …).
    pub event_type: String,
}

/// The balance after every event that changed it, oldest first.
pub fn balance_points(history: &[Envelope]) -> Vec<Point> {
    let mut points: Vec<Point> = Vec::new();
    let mut view: Option<ApplicationView> = None;
    for (index, event) in history.iter().enumerate() {
        // The history has no stream sequences; its order is the stream's, so its position is one.
        let seq = index as u64 + 1;
        match view.as_mut() {
            None => view = ApplicationView::create(event, seq).ok(),
            Some(view) => {
                if view.apply(event, seq).is_err() {
                    continue;
                }
            }
        }
        let Some(credits) = view.as_ref().and_then(|v| v.credits.as_ref()) else {
            continue;
        };
        // Events stored at the same instant (credits applied, then its first tranche released)
        // are one step: only the balance after the last of them is drawn.
        if points.last().is_some_and(|p| p.at == event.time) {
            points.pop();
        }
        let changed = points
            .last()
            .is_none_or(|p| p.balance_usd != credits.balance_usd || p.consumed_usd != credits.consumed_usd);
        if changed {
            points.push(Point {
                at: event.time,
                balance_usd: credits.balance_usd,
                consumed_usd: credits.consumed_usd,
                event_type: event.event_type.clone(),
            });
        }
    }
    points
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;

/// The chart as an SVG element, or nothing before credits are applied.
pub fn burn_down(points: &[Point], window: &Window, granted_usd: i64, now: DateTime<Utc>) -> Option<String> {
    let first = points.first()?;
    let start = first.at.min(window.starts_at);
    let end = window.expires_at.max(points.last().map_or(start, |p| p.at));
    let span = (end - start).num_seconds().max(1) as f64;
    let top_usd = points
        .iter()
        .map(|p| p.balance_usd)
        .max()
        .unwrap_or(0)
        .max(granted_usd)
        .max(1) as f64;
    let x = |at: DateTime<Utc>| LEFT + (at - start).num_seconds() as f64 / span * (WIDTH - LEFT - RIGHT);
    let y = |usd: i64| TOP + (1.0 - usd as f64 / top_usd) * (HEIGHT - TOP - BOTTOM);

    // A step line: the balance holds until the next change, and to now (or the expiry).
    let mut path = format!("M{:.1},{:.1}", x(first.at), y(first.balance_usd));
    for pair in points.windows(2) {
        path.push_str(&format!(" H{:.1} V{:.1}", x(pair[1].at), y(pair[1].balance_usd)));
    }
    let last = points.last().unwrap_or(first);
    let until = now.clamp(last.at, end);
    path.push_str(&format!(" H{:.1}", x(until)));

    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" \
         aria-labelledby=\"chart-title\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title id=\"chart-title\">Credit balance from {} to {}: {} now, of {} granted</title>",
        display::day(&start),
        display::day(&end),
        display::usd(last.balance_usd),
        display::usd(granted_usd),
    );
    // Axes and the balance scale.
    svg.push_str(&format!(
        "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{b}\" stroke=\"#444\"/>\
         <line x1=\"{LEFT}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#444\"/>",
        b = HEIGHT - BOTTOM,
        r = WIDTH - RIGHT
    ));
    for usd in [0, granted_usd / 2, granted_usd] {
        svg.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"11\" fill=\"#222\">{}</text>",
            LEFT - 6.0,
            y(usd) + 4.0,
            display::usd(usd)
        ));
    }
    // The window's dates as dashed markers.
    let markers = [
        (window.starts_at, "start"),
        (window.ends_at, "window end"),
        (window.grace_ends_at, "grace end"),
        (window.expires_at, "expiry"),
    ];
    for (i, (at, label)) in markers.iter().enumerate() {
        let mx = x(*at);
        // The first and last labels lean inwards so they stay inside the drawing.
        let anchor = match i {
            0 => "start",
            i if i == markers.len() - 1 => "end",
            _ => "middle",
        };
        svg.push_str(&format!(
            "<line x1=\"{mx:.1}\" y1=\"{TOP}\" x2=\"{mx:.1}\" y2=\"{b}\" stroke=\"#767676\" stroke-dasharray=\"4 3\"/>\
             <text x=\"{mx:.1}\" y=\"{ty:.1}\" text-anchor=\"{anchor}\" font-size=\"10\" fill=\"#222\">{label} {d}</text>",
            b = HEIGHT - BOTTOM,
            ty = HEIGHT - BOTTOM + 14.0 + (i % 2) as f64 * 12.0,
            d = display::day(at),
        ));
    }
    svg.push_str(&format!(
        "<path d=\"{path}\" fill=\"none\" stroke=\"#0b5cad\" stroke-width=\"2.5\"/>"
    ));
    for point in points {
        svg.push_str(&format!(
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#0b5cad\"/>",
            x(point.at),
            y(point.balance_usd)
        ));
    }
    svg.push_str("</svg>");
    Some(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn window() -> Window {
        Window {
            starts_at: at("2026-03-14T09:00:00Z"),
            ends_at: at("2026-05-13T09:00:00Z"),
            grace_ends_at: at("2026-06-12T09:00:00Z"),
            expires_at: at("2026-09-14T09:00:00Z"),
            mid_window_at: at("2026-04-13T09:00:00Z"),
        }
    }

    fn point(day: &str, balance: i64) -> Point {
        Point {
            at: at(day),
            balance_usd: balance,
            consumed_usd: 20_000 - balance,
            event_type: "consumption_recorded".into(),
        }
    }

    #[test]
    fn no_credits_no_chart() {
        assert_eq!(burn_down(&[], &window(), 20_000, at("2026-04-01T00:00:00Z")), None);
    }

    #[test]
    fn the_line_steps_down_with_each_balance() {
        let points = [
            point("2026-03-14T09:00:00Z", 20_000),
            point("2026-04-01T09:00:00Z", 15_000),
        ];
        let svg = burn_down(&points, &window(), 20_000, at("2026-04-10T00:00:00Z")).unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("$15,000 now, of $20,000 granted"), "{svg}");
        // Start at the top (balance = grant), one step down to 15,000 of 20,000.
        assert!(svg.contains("M64.0,16.0 H"), "{svg}");
        assert!(
            svg.contains(&format!("V{:.1}", 16.0 + 0.25 * (240.0 - 16.0 - 40.0))),
            "{svg}"
        );
        assert!(!svg.contains("style="), "no inline styles: the CSP forbids them");
    }
}
