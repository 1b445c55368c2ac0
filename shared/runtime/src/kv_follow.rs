//! Following a key-value bucket: every entry from a revision on, forever, surviving NATS restarts.
//! The catalog mirror, the simulated clock and the timer index all rest on this. And reading
//! what a bucket holds under a pattern once ([`current`]).
//!
//! A watch ends with an error when the connection behind it goes away; polling it again would
//! panic inside async-nats, so the watch is dropped and, unless the client itself is gone (the
//! service is shutting down), made anew from the next unseen revision.

use async_nats::jetstream::consumer::{DeliverPolicy, ReplayPolicy, push};
use async_nats::jetstream::kv;
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::errors::BoxError;

/// How long [`current`] may take before it gives up with an error.
const CURRENT_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Every key of `store` matching `pattern` (`partner.*`) with its current value, read once: the
/// last message of each matching key, ending at the last one stored when asked, and at once when
/// nothing matches. (A watch has no last entry to report when nothing matches, and async-nats's
/// `history` refuses a wildcard.) Deleted and purged keys are left out.
pub async fn current(
    client: &async_nats::Client,
    store: &kv::Store,
    pattern: &str,
) -> Result<Vec<(String, Bytes)>, BoxError> {
    let consumer = store
        .stream
        .create_consumer(push::OrderedConfig {
            deliver_subject: client.new_inbox(),
            description: Some("kv current values".to_owned()),
            filter_subject: format!("{}{pattern}", store.prefix),
            replay_policy: ReplayPolicy::Instant,
            deliver_policy: DeliverPolicy::LastPerSubject,
            ..Default::default()
        })
        .await?;
    let mut found = Vec::new();
    if consumer.cached_info().num_pending == 0 {
        return Ok(found);
    }
    let mut messages = consumer.messages().await?;
    let read = async {
        while let Some(message) = messages.next().await {
            let message = message?;
            let pending = message.info()?.pending;
            let removed = message
                .headers
                .as_ref()
                .is_some_and(|headers| headers.get("KV-Operation").is_some());
            if !removed && let Some(key) = message.subject.strip_prefix(store.prefix.as_str()) {
                found.push((key.to_owned(), message.payload.clone()));
            }
            if pending == 0 {
                break;
            }
        }
        Ok::<(), BoxError>(())
    };
    // A stalled server (an election) fails the read rather than hanging it or cutting it short.
    tokio::time::timeout(CURRENT_LIMIT, read)
        .await
        .map_err(|_| format!("reading {} under {pattern} took over {CURRENT_LIMIT:?}", store.name))??;
    Ok(found)
}

/// Sends every entry of `store` under `filter` (`>` for all keys) from revision 1 on into `sink`,
/// in order, until the sink is dropped or the client is closed.
pub fn follow(store: kv::Store, filter: String, sink: mpsc::UnboundedSender<kv::Entry>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut next_revision = 1;
        let mut backoff = crate::backoff::PULL;
        loop {
            let watch = if filter == ">" {
                store.watch_all_from_revision(next_revision).await
            } else {
                store.watch_from_revision(&filter, next_revision).await
            };
            let mut watch = match watch {
                Ok(watch) => watch,
                Err(err) => {
                    let wait = backoff.failed();
                    tracing::warn!(bucket = %store.name, error = %err, failures = backoff.failures(), ?wait, "cannot watch the bucket; retrying");
                    tokio::time::sleep(wait).await;
                    continue;
                }
            };
            loop {
                match watch.next().await {
                    Some(Ok(entry)) => {
                        backoff.succeeded();
                        next_revision = entry.revision + 1;
                        if sink.send(entry).is_err() {
                            return;
                        }
                    }
                    Some(Err(err)) => {
                        if err.to_string().contains("dropped") {
                            // The client is gone: the service is stopping.
                            return;
                        }
                        tracing::warn!(bucket = %store.name, error = %err, "the bucket watch failed; resuming");
                        break;
                    }
                    None => break,
                }
            }
            if sink.is_closed() {
                return;
            }
            tokio::time::sleep(backoff.failed()).await;
        }
    })
}
