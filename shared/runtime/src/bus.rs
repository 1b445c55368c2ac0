//! The connection to NATS and the idempotent provisioning of what Sandpiper stores there: the event
//! stream and the key-value buckets. Every replica of every service calls [`Bus::connect`]; the
//! first creates, the rest find (`get_or_create_*`).

use std::time::Duration;

use async_nats::ConnectErrorKind;
use async_nats::jetstream::{self, kv, stream};
use sandpiper_contracts::names::{self, ServiceName};
use sandpiper_contracts::subjects;

use crate::config::CommonConfig;

/// How long a JetStream request (a publish's ack, a stream or KV call) waits for its answer. A
/// request to a node that died mid-way, or an ack lost with a killed leader, is never answered;
/// the same request sent again reaches the new leader once the election is over (a second or
/// two). So the wait is short and the callers retry: on the three-node cluster suite a filing
/// stalled 15 s under JetStream's 5-second default with three attempts, and an election's length
/// with this.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// How long JetStream remembers a `Nats-Msg-Id` to drop a re-published copy. A handler that
/// crashed after publishing is redelivered its input within the consumer's ack wait, far inside this.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(10 * 60);

/// How long an `Idempotency-Key` of `POST /v1/applications` is remembered.
pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot connect to NATS at {url}: {source}")]
    Connect {
        url: String,
        source: async_nats::ConnectError,
    },
    #[error("cannot provision stream {name}: {source}")]
    Stream {
        name: &'static str,
        source: async_nats::jetstream::context::CreateStreamError,
    },
    #[error("cannot name stream {name}: {source}")]
    Handle {
        name: &'static str,
        source: async_nats::jetstream::context::GetStreamError,
    },
    #[error("cannot provision key-value bucket {name}: {source}")]
    Bucket {
        name: String,
        source: async_nats::jetstream::context::CreateKeyValueError,
    },
    #[error("cannot open key-value bucket {name}: {source}")]
    OpenBucket {
        name: String,
        source: async_nats::jetstream::context::KeyValueError,
    },
}

/// A service's connection to NATS, with the stream provisioned.
#[derive(Clone)]
pub struct Bus {
    pub client: async_nats::Client,
    pub jetstream: jetstream::Context,
    /// Replicas for what this service provisions (1 on a single server, 3 on a cluster).
    replicas: usize,
}

impl Bus {
    /// Connects as `service` and makes sure the event stream exists. The connection retries
    /// forever in the background after the first success, so a NATS restart is ridden out.
    ///
    /// Until then, a service waits rather than exits: a server not up yet (refused, timed out,
    /// not resolvable) is tried again with backoff, and so is everything provisioned through the
    /// bus while JetStream is not ready ([`until_ready`]). Only an error no wait can cure (bad
    /// credentials, TLS, a refused configuration) ends the start.
    pub async fn connect(config: &CommonConfig, service: ServiceName) -> Result<Bus, BusError> {
        let servers = config.nats_servers()?;
        let mut backoff = crate::backoff::STARTUP;
        let client = loop {
            let mut options = async_nats::ConnectOptions::new()
                .name(format!("sandpiper-{service}"))
                .connection_timeout(Duration::from_secs(5));
            if let Some((user, password)) = &config.nats_user {
                options = options.user_and_password(user.clone(), password.clone());
            }
            match options.connect(servers.as_slice()).await {
                Ok(client) => break client,
                Err(source)
                    if matches!(
                        source.kind(),
                        ConnectErrorKind::Io | ConnectErrorKind::TimedOut | ConnectErrorKind::Dns
                    ) =>
                {
                    let wait = backoff.failed();
                    tracing::warn!(url = %config.nats_url, error = %source, failures = backoff.failures(), ?wait, "waiting for NATS");
                    tokio::time::sleep(wait).await;
                }
                Err(source) => {
                    return Err(BusError::Connect {
                        url: config.nats_url.clone(),
                        source,
                    });
                }
            }
        };
        let mut jetstream = jetstream::new(client.clone());
        jetstream.set_timeout(REQUEST_TIMEOUT);
        let bus = Bus {
            client,
            jetstream,
            replicas: config.stream_replicas,
        };
        bus.events_stream().await?;
        Ok(bus)
    }

    /// The event stream, created on first use (file storage, every event subject, de-duplication).
    pub async fn events_stream(&self) -> Result<stream::Stream, BusError> {
        self.stream(
            names::EVENTS_STREAM,
            stream::Config {
                description: Some("Every Sandpiper event: the source of truth (CONTRACT §3).".into()),
                subjects: vec![subjects::all_events()],
                storage: stream::StorageType::File,
                retention: stream::RetentionPolicy::Limits,
                duplicate_window: DUPLICATE_WINDOW,
                allow_direct: true,
                ..Default::default()
            },
        )
        .await
    }

    /// Replicas for what this service provisions (`SANDPIPER_STREAM_REPLICAS`).
    pub fn replicas(&self) -> usize {
        self.replicas
    }

    /// The configuration of stream `name` as this service provisions it: `config` with the name
    /// and the configured replica count, so no stream a service creates stays on one server.
    pub fn stream_config(&self, name: &'static str, config: stream::Config) -> stream::Config {
        stream::Config {
            name: name.to_owned(),
            num_replicas: self.replicas,
            ..config
        }
    }

    /// Stream `name`, created on first use from [`Bus::stream_config`], once it has a leader.
    pub async fn stream(&self, name: &'static str, config: stream::Config) -> Result<stream::Stream, BusError> {
        let config = self.stream_config(name, config);
        let stream = until_ready(format!("stream {name}"), || {
            self.jetstream.get_or_create_stream(config.clone())
        })
        .await
        .map_err(|source| BusError::Stream { name, source })?;
        let info = stream.cached_info().clone();
        wait_for_leader(name, info, || stream.get_info()).await;
        Ok(stream)
    }

    /// A handle on the event stream for reads by sequence or by subject; asks the server nothing.
    pub async fn events_handle(&self) -> Result<stream::Stream<()>, BusError> {
        self.jetstream
            .get_stream_no_info(names::EVENTS_STREAM)
            .await
            .map_err(|source| BusError::Handle {
                name: names::EVENTS_STREAM,
                source,
            })
    }

    /// A key-value bucket, created on first use, once its stream has a leader.
    pub async fn bucket(&self, name: &str, history: i64, max_age: Duration) -> Result<kv::Store, BusError> {
        let store = until_ready(format!("key-value bucket {name}"), || {
            self.open_bucket(name, history, max_age)
        })
        .await?;
        let stream = store.stream.clone();
        let info = stream.get_info().await.ok();
        if let Some(info) = info {
            wait_for_leader(name, info, || stream.get_info()).await;
        }
        Ok(store)
    }

    async fn open_bucket(&self, name: &str, history: i64, max_age: Duration) -> Result<kv::Store, BusError> {
        match self.jetstream.get_key_value(name).await {
            Ok(store) => Ok(store),
            Err(err) if err.kind() == async_nats::jetstream::context::KeyValueErrorKind::GetBucket => self
                .jetstream
                .create_key_value(kv::Config {
                    bucket: name.to_owned(),
                    history,
                    max_age,
                    storage: stream::StorageType::File,
                    num_replicas: self.replicas,
                    ..Default::default()
                })
                .await
                .map_err(|source| BusError::Bucket {
                    name: name.to_owned(),
                    source,
                }),
            Err(source) => Err(BusError::OpenBucket {
                name: name.to_owned(),
                source,
            }),
        }
    }

    /// Drains the connection: pending publishes are flushed and subscriptions closed.
    pub async fn drain(&self) {
        if let Err(err) = self.client.drain().await {
            tracing::warn!(error = %err, "draining the NATS connection failed");
        }
    }
}

/// Whether an error (or one of its sources) is JetStream not being ready yet rather than a
/// refusal: no responders (503), a timeout, "temporarily unavailable", no leader yet, or not
/// enough peers online yet to place the replicas (10005, a fresh cluster's nodes still joining).
/// On a fresh cluster these last seconds; a service waits them out.
pub fn is_not_ready(err: &(dyn std::error::Error + 'static)) -> bool {
    let chain = crate::errors::error_chain(err).to_ascii_lowercase();
    [
        "no responders",
        "timed out",
        "timeout",
        "temporarily unavailable",
        "no leader",
        "leader not",
        "no suitable peers",
    ]
    .iter()
    .any(|sign| chain.contains(sign))
}

/// Runs `attempt` until it succeeds or fails for another reason than JetStream not being ready
/// ([`is_not_ready`]), waiting with backoff in between and saying what it waits for. Never gives
/// up on readiness: a service stopped meanwhile is stopped by its signal.
pub async fn until_ready<T, E, F, Fut>(what: impl std::fmt::Display, mut attempt: F) -> Result<T, E>
where
    E: std::error::Error + 'static,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut backoff = crate::backoff::STARTUP;
    loop {
        match attempt().await {
            Err(err) if is_not_ready(&err) => {
                let wait = backoff.failed();
                tracing::warn!(waiting_for = %what, error = %crate::errors::error_chain(&err), failures = backoff.failures(), ?wait, "JetStream is not ready; waiting");
                tokio::time::sleep(wait).await;
            }
            other => return other,
        }
    }
}

/// Waits until stream `name` has a leader (on a cluster, a new stream elects one after its
/// creation returns); a stream of one server is its own leader. Asks again with backoff.
async fn wait_for_leader<F, Fut, E>(name: &str, mut info: stream::Info, mut ask: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<stream::Info, E>>,
    E: std::fmt::Display,
{
    let mut backoff = crate::backoff::STARTUP;
    while info
        .cluster
        .as_ref()
        .is_some_and(|c| c.leader.as_deref().is_none_or(str::is_empty))
    {
        let wait = backoff.failed();
        tracing::warn!(
            stream = name,
            failures = backoff.failures(),
            ?wait,
            "waiting for the stream's leader"
        );
        tokio::time::sleep(wait).await;
        match ask().await {
            Ok(fresh) => info = fresh,
            Err(err) => tracing::warn!(stream = name, error = %err, "cannot read the stream's state; retrying"),
        }
    }
}

/// Where a key-value bucket stands now, asked of the server. `kv::Store::status` answers from
/// the info cached when the store was opened, which is stale as soon as anything is written: a
/// mirror "caught up" with that would miss every later write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketState {
    /// The revision of the latest write (0 for a bucket never written).
    pub last_revision: u64,
    /// How many entries the bucket holds (0: nothing left for a watch to deliver).
    pub entries: u64,
}

/// The bucket's current state, fresh from the server (one request).
pub async fn bucket_state(store: &kv::Store) -> Result<BucketState, async_nats::jetstream::stream::InfoError> {
    let info = store.stream.get_info().await?;
    Ok(BucketState {
        last_revision: info.state.last_sequence,
        entries: info.state.messages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot provision stream EVENTS")]
    struct Wrapped(#[source] std::io::Error);

    #[test]
    fn not_ready_is_told_from_a_refusal_through_the_sources() {
        for ready_soon in [
            "jetstream error: 503 no responders",
            "jetstream error: no suitable peers for placement, peer offline (code 400, error code 10005)",
            "request timed out: deadline has elapsed",
            "JetStream system temporarily unavailable (10008)",
        ] {
            let err = Wrapped(std::io::Error::other(ready_soon));
            assert!(is_not_ready(&err), "{ready_soon}");
        }
        for refused in [
            "insufficient resources (10023)",
            "stream name already in use with a different configuration",
            "replicas > 1 not supported in non-clustered mode",
        ] {
            let err = Wrapped(std::io::Error::other(refused));
            assert!(!is_not_ready(&err), "{refused}");
        }
    }
}
