//! The end-to-end suite: the real services over real nats-servers (and, in `containers`, the
//! images on Docker), driven through the HTTP API. Helpers are in `sandpiper_integration_tests`.
//!
//! One test binary on purpose: every binary links the whole stack, so one binary with a module
//! per area links it once instead of once per area. The modules share a process, so what is
//! global to a process is shared too: the tracing subscriber (installed once, see
//! `sandpiper_integration_tests::otlp::process_traces`), the metrics registry (tests compare
//! before and after, never absolute counts). Each test still gets its own nats-server on a random
//! port, its own store and its own services. Run one area with
//! `cargo test -p sandpiper-integration-tests --test api notifier::`.
//!
//! Layout:
//! - `ace`: the ACE export's Partner Central bodies, validated by botocore (needs `.tools/venv`).
//! - `ace_connector`: the ACE connector with the real AWS SDK against `scripts/ace-stand-in.py`,
//!   which checks every request against botocore's models and counts calls against the quotas.
//! - `agenda`: the agenda and the calendar feeds, parsed by Python's icalendar (needs `.tools/venv`).
//! - `api`: the API's contract at its edges (auth, tenancy, idempotency, concurrency, 4xx, metrics).
//! - `buckets`: key-value buckets read "up to now" from the server, not from a cached status.
//! - `clock`: the clock of CONTRACT §5, readable by all, a simulated one moved only by an admin.
//! - `cluster`: the pipeline on a three-node JetStream cluster, its stream leader, the intake's node
//!   and the delivery stream's leader killed mid-run.
//! - `console`: the web console in a real browser (Chromium over WebDriver, axe-core) and its
//!   security edges (escaping, tenancy, CSRF, cookies) over HTTP (needs `scripts/install-browser`).
//! - `containers`: the images of `./scripts/build-images` on Docker, through restarts (needs Docker).
//! - `schemathesis`: the OpenAPI document against the server, by schemathesis (needs
//!   `.tools/schemathesis`).
//! - `dead_letters`: refused events stored, listed, counted and redriven by an admin (#13).
//! - `demo`: `sandpiper demo`'s story against a real stack, to the end.
//! - `digest`: the weekly digest through simulated weeks; a slow slash command via `response_url`.
//! - `faults`: the event store's edge under faults (an ack lost while NATS is paused, a dead
//!   server first in the NATS URL list, services started before NATS).
//! - `engagement`: the partner-facing records after the window (credit position, graduation, OH).
//! - `lifecycle`: the engagement after approval: credits, tranches, office hours, close, expiry.
//! - `notifier`: webhook deliveries to real HTTP receivers (#5).
//! - `permissions`: the pipeline under `deploy/nats/nats-server.conf`'s per-service users.
//! - `pipeline`: the shared examples through the real pipeline to `in_review`.
//! - `replicas`: two replicas share a durable consumer; each event handled once.
//! - `restart`: services restarted or crashed mid-flight lose nothing and do nothing twice.
//! - `review`: the rules end to end (#3): classification, redirection, review period, catalog.
//! - `scheduler_replay`: a timer firing again after the duplicate window stores nothing twice.
//! - `scheduler_timers`: the timer loop loads its whole index before it is ready or fires.
//! - `simulate`: `sandpiper simulate`'s cohort runs to the end and is reproducible.
//! - `slack`: the Slack app's `/sandpiper` command, signed as Slack signs, and the workspace mapping.
//! - `tracing`: one application is one trace across the five services and the webhook.
//! - `withdrawal`: recall, cancel and revisions (`ETag` / `If-Match`) over the real pipeline (#16).

mod ace;
mod ace_connector;
mod agenda;
mod api;
mod buckets;
mod clock;
mod cluster;
mod console;
mod containers;
mod dead_letters;
mod demo;
mod digest;
mod engagement;
mod faults;
mod lifecycle;
mod notifier;
mod permissions;
mod pipeline;
mod replicas;
mod restart;
mod review;
mod scheduler_replay;
mod scheduler_timers;
mod schemathesis;
mod simulate;
mod slack;
mod tracing;
mod withdrawal;
