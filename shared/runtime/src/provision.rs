//! Provisioning: every stream, key-value bucket and durable consumer Sandpiper keeps in NATS,
//! created (or found) in a step of its own, under a NATS user of its own (#13, item 14).
//!
//! The services' NATS users (`deploy/nats/nats-server.conf`) may not create, change, purge or
//! delete a stream, a bucket or a consumer on the event stream: a service that could would be
//! one bug (or one stolen password) away from deleting the source of truth, or from a consumer
//! reading every partner's events. So what they use is made here, first:
//! `sandpiper-intake provision` (an init container on Kubernetes, a one-shot in Docker Compose)
//! and the first thing `sandpiper up` and the test stacks do.
//!
//! Each service still finds what it uses through the same `get_or_create` calls: on a server
//! without users (a developer's), a service started without this step creates what it needs.
//! Configurations are written once, here or beside the code that reads them, and used by both.

use std::time::Duration;

use async_nats::jetstream::stream;
use chrono::{DateTime, Utc};
use sandpiper_contracts::catalog::Catalog;
use sandpiper_contracts::names::{self, ServiceName};
use sandpiper_contracts::subjects;

use crate::bus::{Bus, BusError, IDEMPOTENCY_TTL};

/// How long a Slack destination's pacing entry is kept: far longer than any wait it sets.
pub const DELIVERY_PACE_MAX_AGE: Duration = Duration::from_secs(3600);

/// What provisioning needs beyond the connection: what it seeds, and the one bucket whose
/// settings are configured.
#[derive(Debug, Clone)]
pub struct Provisioning {
    /// The simulated clock's start, when the clock is simulated (`SANDPIPER_CLOCK_START`).
    pub simulated_start: Option<DateTime<Utc>>,
    /// The console's session lifetime: its bucket's max age (`SANDPIPER_CONSOLE_SESSION_*`).
    pub console_session: Duration,
    /// The services whose durable consumers to make: those deployed. A consumer no service
    /// pulls from would hold the clock's advance, which waits for every consumer to catch up,
    /// so the ACE connector's is made only where the connector runs.
    pub services: Vec<ServiceName>,
}

impl Provisioning {
    /// What a deployment running on `clock` provisions for `services`.
    pub fn new(clock: crate::config::ClockMode, console_session: Duration, services: Vec<ServiceName>) -> Provisioning {
        Provisioning {
            simulated_start: match clock {
                crate::config::ClockMode::Simulated { start } => Some(start),
                crate::config::ClockMode::Wall => None,
            },
            console_session,
            services,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("cannot provision the dead-letter stream: {0}")]
    DeadLetters(#[from] crate::dead_letters::DeadLetterError),
    #[error("cannot seed the simulated clock: {0}")]
    Clock(#[from] crate::clock::ClockError),
    #[error("cannot seed the catalog: {0}")]
    Catalog(#[from] crate::catalog_store::CatalogStoreError),
    #[error("the built-in catalog is invalid: {0}")]
    BuiltinCatalog(String),
    #[error("cannot provision durable consumer {name}: {source}")]
    Consumer {
        name: String,
        #[source]
        source: crate::errors::BoxError,
    },
}

/// A key-value bucket as it is provisioned: its name, how many values a key keeps, how long.
#[derive(Debug, Clone)]
pub struct BucketSpec {
    pub name: String,
    pub history: i64,
    pub max_age: Duration,
}

impl BucketSpec {
    fn lasting(name: impl Into<String>) -> BucketSpec {
        BucketSpec {
            name: name.into(),
            history: 1,
            max_age: Duration::ZERO,
        }
    }

    fn expiring(name: impl Into<String>, max_age: Duration) -> BucketSpec {
        BucketSpec {
            max_age,
            ..BucketSpec::lasting(name)
        }
    }
}

/// Every bucket of every service (`console_session`: the console sessions' max age).
pub fn buckets(console_session: Duration) -> Vec<BucketSpec> {
    let mut buckets = vec![
        BucketSpec::lasting(names::CLOCK_BUCKET),
        BucketSpec::lasting(names::CATALOG_BUCKET),
        BucketSpec::lasting(names::TIMER_STATUS_BUCKET),
        BucketSpec::lasting(names::VIEWS_BUCKET),
        BucketSpec::lasting(names::VIEW_INDEX_BUCKET),
        BucketSpec::expiring(names::IDEMPOTENCY_BUCKET, IDEMPOTENCY_TTL),
        BucketSpec::lasting(names::CALENDAR_FEEDS_BUCKET),
        BucketSpec::expiring(names::CONSOLE_SESSIONS_BUCKET, console_session),
        BucketSpec::lasting(names::ACE_FILINGS_BUCKET),
        BucketSpec::lasting(names::ACE_CURSORS_BUCKET),
        BucketSpec::lasting(names::SUBSCRIPTIONS_BUCKET),
        BucketSpec::lasting(names::SLACK_WORKSPACES_BUCKET),
        BucketSpec::expiring(names::DELIVERY_PACE_BUCKET, DELIVERY_PACE_MAX_AGE),
    ];
    buckets.extend(ServiceName::ALL.iter().map(|s| BucketSpec::lasting(s.timers_bucket())));
    buckets
}

/// The notifier's deliveries stream (a work queue: a delivery leaves it once done).
pub fn deliveries_config(bus: &Bus) -> stream::Config {
    bus.stream_config(
        names::DELIVERIES_STREAM,
        stream::Config {
            subjects: vec![subjects::all_deliveries()],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            duplicate_window: crate::bus::DUPLICATE_WINDOW,
            ..Default::default()
        },
    )
}

/// The deliveries stream, created on first use with the configured replicas.
pub async fn deliveries_stream(bus: &Bus) -> Result<stream::Stream, BusError> {
    bus.stream(names::DELIVERIES_STREAM, deliveries_config(bus)).await
}

/// What one provisioning made or found.
#[derive(Debug, Default)]
pub struct Provisioned {
    pub streams: Vec<String>,
    pub buckets: Vec<String>,
    pub consumers: Vec<String>,
}

/// Creates (or finds) every stream, bucket and durable consumer, and seeds the clock and the
/// built-in catalog. Idempotent: run it before every start; waits for JetStream like a service.
pub async fn provision(bus: &Bus, settings: &Provisioning) -> Result<Provisioned, ProvisionError> {
    let mut done = Provisioned::default();
    let events = bus.events_stream().await?;
    crate::dead_letters::stream(bus).await?;
    deliveries_stream(bus).await?;
    done.streams = [
        names::EVENTS_STREAM,
        names::DEAD_LETTERS_STREAM,
        names::DELIVERIES_STREAM,
    ]
    .map(str::to_owned)
    .to_vec();
    for bucket in buckets(settings.console_session) {
        bus.bucket(&bucket.name, bucket.history, bucket.max_age).await?;
        done.buckets.push(bucket.name);
    }
    for &service in &settings.services {
        let types = service.consumes();
        if types.is_empty() {
            continue;
        }
        let name = service.durable_consumer();
        let config = crate::consume::durable_config(service, types);
        // `create_consumer` creates or updates: a release that consumes another type widens the
        // consumer its services then find.
        crate::bus::until_ready(format!("consumer {name}"), || events.create_consumer(config.clone()))
            .await
            .map_err(|e| ProvisionError::Consumer {
                name: name.clone(),
                source: e.into(),
            })?;
        done.consumers.push(name);
    }
    if let Some(start) = settings.simulated_start {
        crate::clock::seed(bus, start).await?;
    }
    let builtin = Catalog::builtin().map_err(|e| ProvisionError::BuiltinCatalog(e.to_string()))?;
    crate::catalog_store::CatalogStore::seed(bus, &builtin).await?;
    Ok(done)
}
