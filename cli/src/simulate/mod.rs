//! `sandpiper simulate`: a generated cohort of applications through the real stack on the
//! simulated clock, and a report of what happened to it beside DOMAIN §10's reference rates.
//!
//! - [`generator`]: the seeded, documented generator of applications and team behaviour.
//! - [`run`]: the driver: files the cohort, advances the clock week by week, acts for the teams,
//!   collects the histories.
//! - [`report`]: the figures (as text tables) from the histories.
//! - [`html`]: the same report as a self-contained HTML page with SVG charts.

pub mod generator;
pub mod html;
pub mod report;
pub mod run;

pub use report::Report;
pub use run::{Options, Run};

/// Runs a cohort against a running stack (simulated clock) and reads it into a report.
pub async fn against(
    api: &str,
    partner_token: &str,
    admin_token: &str,
    options: &Options,
) -> anyhow::Result<(Run, Report)> {
    let run = run::against(api, partner_token, admin_token, options).await?;
    let report = Report::build(&run, options.seed)?;
    Ok((run, report))
}
