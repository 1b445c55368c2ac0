//! Following a key-value bucket: every entry from a revision on, forever, surviving NATS restarts.
//! The catalog mirror, the simulated clock and the timer index all rest on this.
//!
//! A watch ends with an error when the connection behind it goes away; polling it again would
//! panic inside async-nats, so the watch is dropped and, unless the client itself is gone (the
//! service is shutting down), made anew from the next unseen revision.

use async_nats::jetstream::kv;
use futures::StreamExt;
use tokio::sync::mpsc;

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
