//! The application views the API serves: a projection of the event stream, held in memory.
//!
//! At start-up the intake replays the whole stream through an ordered consumer (so the view is
//! always rebuildable from the log, and a restart loses nothing), then keeps following it. Every
//! replica of the intake keeps its own copy. A command handler that has just published waits for
//! the projection to reach its event's stream sequence before answering, so a client reads its
//! own writes.

use std::collections::{BTreeSet, HashMap};
use std::sync::RwLock;
use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures::StreamExt;
use sandpiper_contracts::events::Envelope;
use sandpiper_contracts::ids::{ApplicationId, PartnerId};
use sandpiper_contracts::model::Programme;
use sandpiper_contracts::state::State;
use sandpiper_contracts::subjects;
use sandpiper_contracts::view::ApplicationView;
use sandpiper_runtime::bus::Bus;
use sandpiper_runtime::health::Gate;
use sandpiper_runtime::shutdown::Shutdown;
use tokio::sync::watch;

/// How often the follower checks it is not stalled behind the stream.
const STALL_CHECK: Duration = Duration::from_secs(1);

/// The stream's last sequence, or `None` if NATS does not answer promptly.
async fn stream_last_sequence(bus: &Bus) -> Option<u64> {
    let stream = bus
        .jetstream
        .get_stream_no_info(sandpiper_contracts::names::EVENTS_STREAM);
    let stream = tokio::time::timeout(STALL_CHECK, stream).await.ok()?.ok()?;
    let info = tokio::time::timeout(STALL_CHECK, stream.get_info()).await.ok()?.ok()?;
    Some(info.state.last_sequence)
}

/// The views, indexed for the API's reads.
#[derive(Default)]
struct Views {
    by_id: HashMap<ApplicationId, ApplicationView>,
    /// Ids in creation order (ULIDs sort by time) per partner: listing and cursor paging.
    by_partner: HashMap<PartnerId, BTreeSet<ApplicationId>>,
    /// Ids in creation order across partners, for admin listings.
    all: BTreeSet<ApplicationId>,
}

/// Which applications a listing wants.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub partner: Option<PartnerId>,
    pub state: Option<State>,
    /// The decided pool, or the filed programme until classification.
    pub pool: Option<Programme>,
    pub service: Option<String>,
}

impl Filter {
    fn matches(&self, view: &ApplicationView) -> bool {
        let pool = view
            .decision
            .as_ref()
            .map(|d| d.pool)
            .or(view.body.programme)
            .unwrap_or(Programme::InnovationSandbox);
        self.state.is_none_or(|s| s == view.state)
            && self.pool.is_none_or(|p| p == pool)
            && self
                .service
                .as_ref()
                .is_none_or(|s| view.body.service.as_ref() == Some(s))
    }
}

/// A page of a listing.
pub struct Page {
    pub items: Vec<ApplicationView>,
    /// The id to continue after, when more may follow.
    pub next: Option<ApplicationId>,
}

/// The projection and how far it has read the stream.
pub struct Projection {
    views: RwLock<Views>,
    applied: watch::Sender<u64>,
}

impl Default for Projection {
    fn default() -> Self {
        Projection {
            views: RwLock::new(Views::default()),
            applied: watch::Sender::new(0),
        }
    }
}

impl Projection {
    /// The view of one application.
    pub fn get(&self, id: &ApplicationId) -> Option<ApplicationView> {
        self.read(|views| views.by_id.get(id).cloned())
    }

    /// A page of applications in creation order, after `cursor`.
    pub fn list(&self, filter: &Filter, cursor: Option<ApplicationId>, limit: usize) -> Page {
        self.read(|views| {
            let ids: Box<dyn Iterator<Item = &ApplicationId>> = match &filter.partner {
                Some(partner) => match views.by_partner.get(partner) {
                    Some(ids) => Box::new(ids.iter()),
                    None => Box::new(std::iter::empty()),
                },
                None => Box::new(views.all.iter()),
            };
            let mut matching = ids
                .filter(|id| cursor.is_none_or(|c| **id > c))
                .filter_map(|id| views.by_id.get(id))
                .filter(|view| filter.matches(view));
            let items: Vec<ApplicationView> = matching.by_ref().take(limit).cloned().collect();
            let more = matching.next().is_some();
            let next = if more { items.last().map(|v| v.id) } else { None };
            Page { items, next }
        })
    }

    /// Every application naming an AWS account, of one partner (or all, for an admin).
    pub fn for_account(&self, partner: Option<&PartnerId>, account: &str) -> Vec<ApplicationView> {
        self.read(|views| {
            views
                .by_id
                .values()
                .filter(|v| partner.is_none_or(|p| *p == v.partner_id))
                .filter(|v| v.body.startup.as_ref().and_then(|s| s.aws_account_id.as_deref()) == Some(account))
                .cloned()
                .collect()
        })
    }

    /// The stream sequence folded in so far.
    pub fn applied(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Waits until the event at `sequence` is folded in, up to `timeout`.
    pub async fn wait_for(&self, sequence: u64, timeout: Duration) -> bool {
        let mut applied = self.applied.subscribe();
        tokio::time::timeout(timeout, applied.wait_for(|a| *a >= sequence))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    fn read<T>(&self, f: impl FnOnce(&Views) -> T) -> T {
        // A poisoned lock means a fold panicked mid-way; the data is still the last good state
        // of each view (a fold only replaces a view after it succeeds), so keep serving it.
        let views = self.views.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&views)
    }

    /// Folds one stored event in (idempotent: a sequence already applied changes nothing).
    pub fn apply(&self, envelope: &Envelope, sequence: u64) {
        {
            let mut views = self.views.write().unwrap_or_else(|poisoned| poisoned.into_inner());
            let views = &mut *views;
            let outcome = match views.by_id.get_mut(&envelope.subject) {
                Some(view) => {
                    // Fold into a copy so a refused event leaves the view untouched.
                    let mut next = view.clone();
                    next.apply(envelope, sequence).map(|_| *view = next)
                }
                None => ApplicationView::create(envelope, sequence).map(|view| {
                    views
                        .by_partner
                        .entry(view.partner_id.clone())
                        .or_default()
                        .insert(view.id);
                    views.all.insert(view.id);
                    views.by_id.insert(view.id, view);
                }),
            };
            if let Err(err) = outcome {
                // The log holds an event the state machine refuses: keep the view as it was and
                // say so loudly; the event stays in the history for anyone to inspect.
                tracing::error!(application_id = %envelope.subject, event_id = %envelope.id, sequence, error = %err, "event not folded into the view");
            }
        }
        self.advance(sequence);
    }

    fn advance(&self, sequence: u64) {
        self.applied.send_if_modified(|applied| {
            let later = sequence > *applied;
            if later {
                *applied = sequence;
            }
            later
        });
    }

    /// Replays the stream from the start and follows it until `shutdown`. `caught_up` opens once
    /// everything stored at start-up is folded in.
    pub async fn follow(&self, bus: Bus, shutdown: Shutdown, caught_up: Gate) {
        let mut start_target = None;
        while !shutdown.is_triggered() {
            if start_target.is_none() {
                match bus.events_stream().await {
                    Ok(stream) => start_target = Some(stream.cached_info().state.last_sequence),
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot read the event stream; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                }
            }
            let target = start_target.unwrap_or(0);
            if self.applied() >= target {
                caught_up.set(true);
            }
            tokio::select! {
                () = shutdown.triggered() => break,
                result = self.follow_once(&bus, target, &caught_up) => {
                    if let Err(err) = result {
                        tracing::warn!(error = %err, "following the event stream failed; resuming");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        }
    }

    /// Reads from the next unapplied sequence until the consumer fails.
    async fn follow_once(&self, bus: &Bus, target: u64, caught_up: &Gate) -> Result<(), String> {
        let stream = bus.events_stream().await.map_err(|e| e.to_string())?;
        let consumer = stream
            .create_consumer(pull::OrderedConfig {
                filter_subject: subjects::all_events(),
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: self.applied() + 1,
                },
                ..Default::default()
            })
            .await
            .map_err(|e| e.to_string())?;
        let mut messages = consumer.messages().await.map_err(|e| e.to_string())?;
        // An ordered consumer notices a lost server only after missed heartbeats; a watchdog
        // compares the stream's last sequence with ours so a stall costs seconds, not minutes.
        let mut watchdog = tokio::time::interval(STALL_CHECK);
        let mut behind_at: Option<u64> = None;
        loop {
            let message = tokio::select! {
                message = messages.next() => message,
                _ = watchdog.tick() => {
                    let last = stream_last_sequence(bus).await;
                    let applied = self.applied();
                    match last {
                        Some(last) if last > applied => {
                            if behind_at == Some(applied) {
                                return Err(format!("stalled at sequence {applied} while the stream is at {last}"));
                            }
                            behind_at = Some(applied);
                        }
                        _ => behind_at = None,
                    }
                    continue;
                }
            };
            let Some(message) = message else { break };
            let message = message.map_err(|e| e.to_string())?;
            let sequence = message.info().map_err(|e| e.to_string())?.stream_sequence;
            match Envelope::from_json(&message.payload) {
                Ok(envelope) => self.apply(&envelope, sequence),
                Err(err) => {
                    tracing::error!(sequence, subject = %message.subject, error = %err, "stream holds an event that is not an envelope; skipped");
                    self.advance(sequence);
                }
            }
            if sequence >= target && !caught_up.is_open() {
                tracing::info!(sequence, "projection caught up with the stream");
                caught_up.set(true);
            }
        }
        Err("the ordered consumer ended".into())
    }
}
