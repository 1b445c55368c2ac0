//! `sandpiper simulate --cohort N --seed S [--report FILE.html]`: N generated applications through
//! the whole stack on a simulated clock, with a report against DOMAIN §10 (see [`crate::simulate`]).

use std::path::PathBuf;

use anyhow::Context;

use crate::private_stack::PrivateStack;
use crate::simulate::{self, Options};

/// A Monday, as the demo's: the simulation's start.
const START: &str = "2026-03-02T09:00:00Z";

#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// How many applications to file
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    cohort: u32,
    /// The generator's seed: the same seed gives the same figures
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Also write the report as a self-contained HTML page with charts
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
    /// Requests in flight at once
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=256))]
    concurrency: u32,
}

pub async fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let options = Options {
        cohort: args.cohort as usize,
        seed: args.seed,
        concurrency: args.concurrency as usize,
        progress: true,
    };
    eprintln!(
        "Simulating {} applications (seed {}) on a private stack from {START}…",
        options.cohort, options.seed
    );
    let stack = PrivateStack::start("simulate", START).await?;
    let result = simulate::against(
        &stack.api_url(),
        crate::private_stack::PARTNER_TOKEN,
        crate::private_stack::ADMIN_TOKEN,
        &options,
    )
    .await;
    stack.stop().await;
    let (run, report) = result?;
    println!("{}", report.text());
    for problem in report.inconsistencies() {
        println!("warning: {problem}");
    }
    for refused in run.refused.iter().take(5) {
        println!("refused: {refused}");
    }
    if let Some(path) = &args.report {
        std::fs::write(path, simulate::html::render(&report))
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("The report with charts: {}", path.display());
    }
    println!(
        "({} applications, {} simulated days, in {:.1} s)",
        report.filed,
        report.simulated_days,
        run.elapsed.as_secs_f64()
    );
    Ok(())
}
