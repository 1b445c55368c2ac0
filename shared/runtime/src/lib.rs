//! What every Sandpiper service runs on.
//!
//! # Layout
//!
//! - [`config`]: typed configuration from `SANDPIPER_*` variables; a bad value fails start-up
//!   naming the variable.
//! - [`bus`]: connecting to NATS, and finding (or, where no one provisioned, creating) a stream
//!   or bucket; [`provision`]: every stream, bucket and durable consumer, made in a step of its
//!   own under its own NATS user, so the services' users need no right to make or break them.
//! - [`publish`]: publishing events (awaiting the JetStream ack, `Nats-Msg-Id` = event id).
//! - [`errors`]: an error and its chain of sources as one log line.
//! - [`handler`]: what a service plugs in: an event [`handler::Handler`], a
//!   [`handler::TimerHandler`] with its [`handler::TimerKind`], and [`handler::HandlerError`]
//!   with its policy (transient or permanent, the cause kept as the source). The loops below
//!   depend on it, never the other way.
//! - [`consume`]: the durable pull-consumer loop with explicit acks that service handlers plug into;
//!   [`backoff`]: how it and the other pull loops wait after a failure; `held_back`: an
//!   application's later events waiting behind one handed back for redelivery.
//! - [`dead_letters`]: the events a consumer refused, stored before they are terminated;
//!   [`redrive`]: a service handling one of them again when an admin asks.
//! - [`clock`]: the one clock of CONTRACT §5, wall or simulated.
//! - [`catalog_store`]: the catalog's published versions, mirrored from a key-value bucket (K4).
//! - [`metrics`]: Prometheus metrics and `GET /metrics`.
//! - [`kv_follow`]: following a key-value bucket across NATS restarts.
//! - [`timers`]: durable timers in a key-value bucket, fired in due order on the system clock,
//!   with the progress the clock-advance barrier reads.
//! - [`health`]: `/healthz` and `/readyz`.
//! - [`http`]: bearer tokens and tenancy, problem+json, request extractors (intake, notifier).
//! - [`views`]: the read model, one record per application in a key-value bucket, folded by
//!   whoever sees an event first; [`effects`]: the one way a cause's effects are stored once.
//! - [`history`]: one application read back from the stream, for the read model's repair paths
//!   only ([`views::ViewStore::rebuild`]).
//! - [`shutdown`]: SIGINT/SIGTERM as a future, and the signal that fans it out to a service's tasks.
//! - [`telemetry`]: logs and OpenTelemetry traces, set up once per process.
//! - [`trace_context`]: the W3C trace context in NATS and HTTP headers (one injector, one
//!   extractor), so one application is one trace across the services.
//! - [`worker`]: a service that consumes events and serves only health endpoints, built from a
//!   handler (classifier, reviewer, scheduler, notifier).
//!
//! # Error policy
//!
//! Library code returns typed errors (`thiserror`); binaries add context with `anyhow` at their
//! edge. Nothing a client or the network sends may panic a service.

pub mod backoff;
pub mod bus;
pub mod catalog_store;
pub mod clock;
pub mod config;
pub mod consume;
pub mod dead_letters;
pub mod effects;
pub mod errors;
pub mod handler;
pub mod health;
mod held_back;
pub mod history;
pub mod http;
pub mod kv_follow;
pub mod metrics;
pub mod provision;
pub mod publish;
pub mod redrive;
pub mod shutdown;
pub mod team_decision;
pub mod telemetry;
pub mod timers;
pub mod trace_context;
pub mod views;
pub mod worker;
