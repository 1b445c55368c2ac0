//! `sandpiper-ace`, the ACE connector (issue #17): Sandpiper files its applications in AWS Partner
//! Central itself, follows what AWS decides, and (under `review = ace`) runs the engagement from
//! AWS's real decision, keeping its own review as a forecast beside it.
//!
//! Off unless deployed: nothing else depends on it, and without it the export
//! (`GET /v1/applications/{id}/ace`) is still there for filing by hand.
//!
//! # Layout
//!
//! - [`config`]: `SANDPIPER_ACE_*` (catalog, benefits, involvement, polling, a stand-in's endpoint).
//! - [`client`]: both Partner Central APIs through the AWS SDK for Rust, paced and retried; the
//!   only module that sees the SDK's types.
//! - [`pace`]: the published quotas (writes 1/s and 10,000/day, reads 10/s and 100,000/day) and
//!   the backoff with jitter after throttling.
//! - [`filings`]: which application each AWS id is, and the polling cursors (KV buckets).
//! - [`filer`]: the event handler: file on `submitted`, recall / cancel with the partner, and
//!   AWS's decision as `approved` / `rejected`.
//! - [`poll`]: AWS's changes as `ace_status_changed`.

pub mod client;
pub mod config;
pub mod filer;
pub mod filings;
pub mod pace;
pub mod poll;

use std::future::Future;
use std::net::SocketAddr;

use sandpiper_contracts::names::ServiceName;
use sandpiper_runtime::worker::{Worker, WorkerError};
use tokio::sync::watch;

pub use config::{AceConfig, ConnectorSettings, DEFAULT_PORT};

use crate::client::PartnerCentral;
use crate::filer::Filer;
use crate::filings::Filings;
use crate::poll::Poller;

/// The connector, built and ready to run: the event handler's worker and the poller.
pub struct AceService {
    worker: Worker<Filer>,
    poller: Poller,
}

impl AceService {
    /// Connects to NATS and provisions what the connector reads and writes; Partner Central is
    /// not called until there is something to file or a poll is due.
    pub async fn build(config: &AceConfig) -> Result<AceService, WorkerError> {
        let settings = config.connector.clone();
        let partner_central = PartnerCentral::connect(&settings).await;
        let review = config.common.review;
        let mut poller = None;
        let worker = Worker::build(ServiceName::Ace, &config.common, |ctx| {
            let filings = Filings::new(ctx.bus.clone());
            poller = Some(Poller {
                partner_central: partner_central.clone(),
                views: ctx.views.clone(),
                publisher: ctx.publisher.clone(),
                filings: filings.clone(),
                catalog: settings.ace.catalog.as_str().to_owned(),
                interval: settings.poll_interval,
            });
            Filer {
                views: ctx.views,
                publisher: ctx.publisher,
                partner_central,
                filings,
                settings,
                review,
            }
        })
        .await?;
        let poller = poller.ok_or_else(|| WorkerError::Config("the poller was not built".into()))?;
        Ok(AceService { worker, poller })
    }

    /// The health endpoints' address.
    pub fn local_addr(&self) -> SocketAddr {
        self.worker.local_addr()
    }

    /// Files and polls until `stop` resolves; then finishes the event in hand and stops polling.
    pub async fn run_until_stopped(self, stop: impl Future<Output = ()> + Send + 'static) -> Result<(), WorkerError> {
        let (stopping, stopped) = watch::channel(false);
        let poller = tokio::spawn(self.poller.run(stopped));
        let stop = async move {
            stop.await;
            let _ = stopping.send(true);
        };
        let result = self.worker.run_until_stopped(stop).await;
        let _ = poller.await;
        result
    }
}
