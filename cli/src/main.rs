//! `sandpiper`: run the whole stack on this machine, submit applications, follow them.

use clap::{Parser, Subcommand};
use sandpiper_cli::commands::withdraw::{self, Withdrawal};
use sandpiper_cli::commands::{
    ace, agenda, catalog, dead_letters, demo, notify, preflight, simulate, status, submit, up,
};

#[derive(Parser)]
#[command(
    name = "sandpiper",
    version,
    about = "Sandpiper: AWS Innovation Sandbox credit applications, end to end"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Six months of Innovation Sandbox in under a minute: the examples on a simulated clock
    Demo(demo::DemoArgs),
    /// A generated cohort through the whole stack on a simulated clock, reported against DOMAIN §10
    Simulate(simulate::SimulateArgs),
    /// Run the whole stack in the foreground: nats-server and the five services (Ctrl-C stops all)
    Up(up::UpArgs),
    /// Create an application from a JSON file and submit it
    Submit(submit::SubmitArgs),
    /// Show where an application stands and its history
    Status(status::StatusArgs),
    /// Take a submitted application with no decision yet back to draft (its review is cancelled)
    Recall(withdraw::WithdrawArgs),
    /// End a draft (or a recalled application) for good
    Cancel(withdraw::WithdrawArgs),
    /// Score an application as the review would, without filing it
    Preflight(preflight::PreflightArgs),
    /// Subscribe a Slack webhook or an HTTP endpoint to events
    Subscribe(notify::SubscribeArgs),
    /// List the subscriptions
    Subscriptions(notify::ListArgs),
    /// Dead letters: list them, redrive one (admin token)
    #[command(subcommand)]
    Deliveries(notify::DeliveriesCommand),
    /// Events a service refused: list them, have one handled again (admin token)
    #[command(subcommand)]
    DeadLetters(dead_letters::DeadLettersCommand),
    /// Show or publish versions of the emerging-service catalog
    #[command(subcommand)]
    Catalog(catalog::CatalogCommand),
    /// What falls due across your applications: sessions, check-ins, closes, reminders, expiries
    Agenda(agenda::AgendaArgs),
    /// Partner Central (ACE): the request bodies that file an application
    #[command(subcommand)]
    Ace(ace::AceCommand),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Kept to the end of main: dropping it flushes the spans still queued.
    let _telemetry = matches!(cli.command, Command::Up(_)).then(|| sandpiper_runtime::telemetry::init("sandpiper"));
    let result = match cli.command {
        Command::Up(args) => up::run(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Simulate(args) => simulate::run(args).await,
        Command::Submit(args) => submit::run(args).await,
        Command::Status(args) => status::run(args).await,
        Command::Recall(args) => withdraw::run(Withdrawal::Recall, args).await,
        Command::Cancel(args) => withdraw::run(Withdrawal::Cancel, args).await,
        Command::Preflight(args) => preflight::run(args).await,
        Command::Catalog(command) => catalog::run(command).await,
        Command::Ace(command) => ace::run(command).await,
        Command::Agenda(args) => agenda::run(args).await,
        Command::Subscribe(args) => notify::subscribe(args).await,
        Command::Subscriptions(args) => notify::list(args).await,
        Command::Deliveries(command) => notify::deliveries(command).await,
        Command::DeadLetters(command) => dead_letters::run(command).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // The message and its causes, for a person; no backtrace.
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  {cause}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}
