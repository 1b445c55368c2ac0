//! The `sandpiper` command's library: what `sandpiper up` runs, reused by the integration tests.
//!
//! # Layout
//!
//! - [`local_nats`]: find and run a local `nats-server` with JetStream (its own data dir, stopped
//!   cleanly).
//! - [`stack`]: the five services in one process, each with its own NATS connection and HTTP
//!   port, individually stoppable and restartable.
//! - [`client`]: a small HTTP client for the API, used by `submit` and `status`.
//! - [`private_stack`]: nats-server and the five services on a simulated clock, for `demo` and
//!   `simulate`.
//! - [`simulate`]: the cohort simulation: generator, driver and report.
//! - [`commands`]: the subcommands.

pub mod client;
pub mod commands;
pub mod local_nats;
pub mod private_stack;
pub mod simulate;
pub mod stack;
