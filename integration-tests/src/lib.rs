//! Test support: a real nats-server on a random port with its own store, and the five services
//! started in-process against it (the same [`Stack`] `sandpiper up` runs), driven over HTTP.
//! Logs are silent unless `TEST_LOG` is set. A missing nats-server fails the test loudly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod ace_stand_in;
pub mod browser;
pub mod cluster;
pub mod console;
pub mod otlp;
pub mod receiver;
pub mod slack;

/// Polls `snapshot` every `every` until `done` holds for what it returns, and returns that; fails
/// the test naming `what` after 30 s. The one wait loop behind the test receivers.
pub async fn poll_until<T>(
    what: &str,
    every: Duration,
    snapshot: impl Fn() -> Vec<T>,
    done: impl Fn(&[T]) -> bool,
) -> Vec<T> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = snapshot();
        if done(&seen) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; {} received",
            seen.len()
        );
        tokio::time::sleep(every).await;
    }
}

/// Polls `probe` every 100 ms until it gives a value, and returns it; fails the test naming
/// `what` after 30 s. For waits on something only an async call can see (an API answer).
pub async fn poll_async<T, F: std::future::Future<Output = Option<T>>>(what: &str, probe: impl Fn() -> F) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures::StreamExt;
use sandpiper_cli::local_nats::{LocalNats, SyncInterval};
use sandpiper_cli::stack::{Stack, StackConfig};
use sandpiper_contracts::events::Envelope;
use sandpiper_contracts::ids::{ApplicationId, PartnerId};
use sandpiper_contracts::names::{self, ServiceName};
use sandpiper_contracts::subjects;
use sandpiper_runtime::config::{ClockMode, ReviewMode};
use serde_json::Value;

pub const ACME: &str = "token-acme";
pub const GLOBEX: &str = "token-globex";
pub const ADMIN: &str = "token-admin";
/// The Slack app's signing secret the test stacks run with.
pub const SLACK_SIGNING_SECRET: &str = "slack-signing-secret-for-tests";
/// The passwords `deploy/nats/nats-server.conf` substitutes in tests (`{service}-secret`).
pub const SECURED_PASSWORDS: &[(&str, &str)] = &[
    ("SANDPIPER_INTAKE_NATS_PASSWORD", "intake-secret"),
    ("SANDPIPER_CLASSIFIER_NATS_PASSWORD", "classifier-secret"),
    ("SANDPIPER_REVIEWER_NATS_PASSWORD", "reviewer-secret"),
    ("SANDPIPER_SCHEDULER_NATS_PASSWORD", "scheduler-secret"),
    ("SANDPIPER_NOTIFIER_NATS_PASSWORD", "notifier-secret"),
    ("SANDPIPER_ACE_NATS_PASSWORD", "ace-secret"),
    ("SANDPIPER_BOT_ACME_NATS_PASSWORD", "bot-acme-secret"),
    ("SANDPIPER_PROVISION_NATS_PASSWORD", "provision-secret"),
];

/// Where simulated-clock tests start: a Monday, so weekday rules are easy to read.
pub const SIMULATED_START: &str = "2026-03-02T09:00:00Z";

/// One isolated Sandpiper: its own nats-server, data dir and services.
pub struct TestApp {
    pub stack: Stack,
    pub nats: Option<LocalNats>,
    pub nats_url: String,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub location: Option<String>,
    pub etag: Option<String>,
    pub body: Value,
}

impl Reply {
    /// Sends a request and reads the whole answer: a JSON body as JSON, any other body as a
    /// string, an empty one as null.
    pub async fn read(request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("the API answers");
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header("content-type").unwrap_or_default();
        let location = header("location");
        let etag = header("etag");
        let bytes = response.bytes().await.expect("a body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Reply {
            status,
            content_type,
            location,
            etag,
            body,
        }
    }
}

/// The stack configuration of the tests: the dev tokens, any free ports, quick delivery retries.
fn test_stack_config(
    nats_url: String,
    clock: ClockMode,
    nats_users: std::collections::HashMap<ServiceName, (String, String)>,
) -> StackConfig {
    StackConfig {
        nats_url,
        clock,
        api_tokens: format!("acme:{ACME},globex:{GLOBEX},admin:{ADMIN}"),
        api_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        notifier_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        max_body_bytes: 64 * 1024,
        ace: Default::default(),
        webhook_allow: vec!["127.0.0.0/8".parse().unwrap()],
        delivery: sandpiper_notifier::config::RetryPolicy {
            attempts: 4,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(3),
            timeout: Duration::from_secs(2),
            slack_interval: Duration::from_millis(20),
        },
        slack_signing_secret: Some(SLACK_SIGNING_SECRET.into()),
        slack_answer_within: sandpiper_notifier::config::DEFAULT_SLACK_ANSWER_WITHIN,
        stream_replicas: 1,
        // A secured server's provisioning user (`deploy/nats/nats-server.conf`).
        provisioner: (!nats_users.is_empty()).then(|| ("provision".to_owned(), "provision-secret".to_owned())),
        nats_users,
        console: Default::default(),
        review: Default::default(),
        ace_connector: None,
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(ClockMode::Wall).await
    }

    pub async fn spawn_with(clock: ClockMode) -> TestApp {
        TestApp::spawn_full(clock, false, str::to_owned, |_| ()).await
    }

    /// A stack on a three-node cluster ([`cluster::Cluster`]): every service given the three
    /// URLs, the stream and buckets at 3 replicas. [`TestApp::nats_url`] is the first node's.
    pub async fn spawn_on_cluster(cluster: &cluster::Cluster, clock: ClockMode) -> TestApp {
        sandpiper_runtime::http::ensure_crypto_provider();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = test_stack_config(cluster.urls(), clock, Default::default());
        config.stream_replicas = 3;
        let stack = Stack::start(config).await.expect("the stack starts");
        stack
            .wait_ready(Duration::from_secs(30))
            .await
            .expect("the stack becomes ready");
        TestApp {
            stack,
            nats: None,
            nats_url: cluster.url(0),
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// A stack whose configuration `customize` changes (a setting a test needs off its default).
    pub async fn spawn_customized(clock: ClockMode, customize: impl FnOnce(&mut StackConfig)) -> TestApp {
        TestApp::spawn_full(clock, false, str::to_owned, customize).await
    }

    /// A stack whose console runs with `console`'s settings (a trusted proxy header, say).
    pub async fn spawn_with_console(console: sandpiper_console::settings::ConsoleSettings) -> TestApp {
        TestApp::spawn_full(ClockMode::Wall, false, str::to_owned, |c| c.console = console).await
    }

    /// A stack with the ACE connector, pointed at `stand_in` ([`ace_stand_in::AceStandIn`]) with
    /// its keys, polling every 200 ms, and reviews decided by `review`.
    pub async fn spawn_with_ace(stand_in: &ace_stand_in::AceStandIn, review: ReviewMode) -> TestApp {
        TestApp::spawn_ace(stand_in, review, false).await
    }

    /// [`TestApp::spawn_with_ace`] on `deploy/nats/nats-server.conf`'s per-service users.
    pub async fn spawn_with_ace_secured(stand_in: &ace_stand_in::AceStandIn, review: ReviewMode) -> TestApp {
        TestApp::spawn_ace(stand_in, review, true).await
    }

    async fn spawn_ace(stand_in: &ace_stand_in::AceStandIn, review: ReviewMode, secured: bool) -> TestApp {
        let connector = sandpiper_ace::ConnectorSettings {
            endpoint_url: Some(stand_in.url.clone()),
            static_credentials: Some((
                ace_stand_in::ACCESS_KEY_ID.to_owned(),
                ace_stand_in::SECRET_ACCESS_KEY.to_owned(),
            )),
            poll_interval: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
            ..Default::default()
        };
        TestApp::spawn_full(ClockMode::Wall, secured, str::to_owned, |c| {
            c.review = review;
            c.ace_connector = Some(connector);
        })
        .await
    }

    /// A stack whose services are given `list(url)` as their NATS URL (`SANDPIPER_NATS_URL`),
    /// `url` being its nats-server's; [`TestApp::nats_url`] stays that one server's.
    pub async fn spawn_with_nats_list(list: impl FnOnce(&str) -> String) -> TestApp {
        TestApp::spawn_full(ClockMode::Wall, false, list, |_| ()).await
    }

    /// A stack whose services start `delay` before their nats-server does, on the port they were
    /// given: they must wait for it (and for JetStream) rather than exit.
    pub async fn spawn_before_nats(delay: Duration, clock: ClockMode) -> TestApp {
        sandpiper_runtime::http::ensure_crypto_provider();
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let nats_url = format!("nats://127.0.0.1:{port}");
        let config = test_stack_config(nats_url.clone(), clock, Default::default());
        let store = dir.path().join("nats");
        let late = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            LocalNats::start(&store, port).await
        });
        let stack = Stack::start(config).await.expect("the stack starts once NATS is up");
        let nats = late.await.expect("the nats task").expect("nats starts");
        stack
            .wait_ready(Duration::from_secs(20))
            .await
            .expect("the stack becomes ready");
        TestApp {
            stack,
            nats: Some(nats),
            nats_url,
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// A stack on a nats-server running `deploy/nats/nats-server.conf`: one user per service with
    /// only the permissions it needs ([`SECURED_PASSWORDS`]).
    pub async fn spawn_secured(clock: ClockMode) -> TestApp {
        TestApp::spawn_full(clock, true, str::to_owned, |_| ()).await
    }

    async fn spawn_full(
        clock: ClockMode,
        secured: bool,
        list: impl FnOnce(&str) -> String,
        customize: impl FnOnce(&mut StackConfig),
    ) -> TestApp {
        // The services' logs (`TEST_LOG`) go through the process's one subscriber, which the test
        // of the traces exports through too: the suite is one process, and a subscriber of
        // `telemetry::init_for_tests` installed first would leave that test with no exporter.
        if std::env::var_os("TEST_LOG").is_some() {
            otlp::process_traces();
        }
        sandpiper_runtime::http::ensure_crypto_provider();
        let dir = tempfile::tempdir().expect("temp dir");
        let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/nats/nats-server.conf");
        let started = if secured {
            LocalNats::start_with(&dir.path().join("nats"), 0, Some(&config), SECURED_PASSWORDS).await
        } else {
            LocalNats::start_synced(&dir.path().join("nats"), 0, sync_interval()).await
        };
        let nats = started.unwrap_or_else(|e| panic!("integration tests need a real nats-server: {e}"));
        let nats_users = if secured {
            ServiceName::ALL
                .iter()
                .map(|s| (*s, (s.as_str().to_owned(), format!("{}-secret", s.as_str()))))
                .collect()
        } else {
            Default::default()
        };
        let nats_url = nats.url();
        if !secured {
            prepare_read_model(&nats_url).await;
        }
        let mut config = test_stack_config(list(&nats_url), clock, nats_users);
        customize(&mut config);
        let stack = Stack::start(config).await.expect("the stack starts");
        stack
            .wait_ready(Duration::from_secs(20))
            .await
            .expect("the stack becomes ready");
        TestApp {
            stack,
            nats: Some(nats),
            nats_url,
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// A stack on the simulated clock, starting at [`SIMULATED_START`].
    pub async fn simulated() -> TestApp {
        TestApp::spawn_with(ClockMode::Simulated {
            start: SIMULATED_START.parse().expect("a time"),
        })
        .await
    }

    /// Advances the simulated clock (admin) and checks it answered 200.
    pub async fn advance_days(&self, days: i64) {
        let reply = self
            .post(ADMIN, "/v1/clock/advance", &serde_json::json!({"days": days}))
            .await;
        assert_eq!(reply.status, 200, "advance: {reply:?}");
    }

    /// The application as the API shows it.
    pub async fn view(&self, token: &str, id: &str) -> Value {
        self.get(token, &format!("/v1/applications/{id}")).await.body
    }

    /// Stops nats-server and starts it again on the same port with the same store.
    /// Where this stack's nats-server keeps its store (a crash test restarts it there).
    pub fn nats_store(&self) -> std::path::PathBuf {
        self._dir.path().join("nats")
    }

    pub async fn restart_nats(&mut self) {
        let nats = self.nats.take().expect("nats is running");
        let port = nats.port();
        nats.stop().await;
        self.nats = Some(
            LocalNats::start(&self._dir.path().join("nats"), port)
                .await
                .expect("nats restarts"),
        );
    }

    /// A connection to this stack's NATS as `service`, for a test that stores or reads what the
    /// services would.
    pub async fn bus(&self, service: ServiceName) -> sandpiper_runtime::bus::Bus {
        let config = sandpiper_runtime::config::CommonConfig::load(
            &std::collections::HashMap::from([("SANDPIPER_NATS_URL".to_owned(), self.nats_url.clone())]),
            0,
        )
        .expect("a valid config");
        sandpiper_runtime::bus::Bus::connect(&config, service)
            .await
            .expect("the bus connects")
    }

    /// The notifier's API.
    pub fn notifier_url(&self, path: &str) -> String {
        format!("{}{path}", self.stack.notifier_url())
    }

    /// Subscribes; returns (id, secret).
    pub async fn subscribe(&self, token: &str, url: &str, events: &[&str], format: &str) -> (String, String) {
        let request = self
            .http
            .post(self.notifier_url("/v1/subscriptions"))
            .bearer_auth(token)
            .json(&serde_json::json!({"url": url, "events": events, "format": format}));
        let reply = self.send(request).await;
        assert_eq!(reply.status, 201, "subscribe: {reply:?}");
        (
            reply.body["id"].as_str().unwrap().to_owned(),
            reply.body["secret"].as_str().unwrap().to_owned(),
        )
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.stack.api_url())
    }

    /// Sends a request and reads the whole answer.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        Reply::read(request).await
    }

    pub async fn get(&self, token: &str, path: &str) -> Reply {
        self.send(self.http.get(self.url(path)).bearer_auth(token)).await
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> Reply {
        self.send(self.http.post(self.url(path)).bearer_auth(token).json(body))
            .await
    }

    pub async fn post_empty(&self, token: &str, path: &str) -> Reply {
        self.send(self.http.post(self.url(path)).bearer_auth(token)).await
    }

    /// Creates a draft; returns its id.
    pub async fn create(&self, token: &str, body: &Value) -> String {
        let reply = self.post(token, "/v1/applications", body).await;
        assert_eq!(reply.status, 201, "create: {reply:?}");
        reply.body["id"].as_str().expect("an id").to_owned()
    }

    /// Creates and submits; returns the id.
    pub async fn submit(&self, token: &str, body: &Value) -> String {
        let id = self.create(token, body).await;
        let reply = self.post_empty(token, &format!("/v1/applications/{id}/submit")).await;
        assert_eq!(reply.status, 202, "submit: {reply:?}");
        id
    }

    /// Polls the application until it reaches `state` (the pipeline is asynchronous).
    /// ACME's application `id`'s office hours as the iCalendar feed (OH4), as served.
    pub async fn office_hours_ics(&self, id: &str) -> Reply {
        self.send(
            self.http
                .get(self.url(&format!("/v1/applications/{id}/office-hours.ics")))
                .bearer_auth(ACME),
        )
        .await
    }

    /// Reports consumption for ACME's application `id` (TR7); the updated view.
    pub async fn spend(&self, id: &str, date: &str, amount: i64) -> Value {
        let reply = self
            .post(
                ACME,
                &format!("/v1/applications/{id}/consumption"),
                &serde_json::json!({"date": date, "amount_usd": amount}),
            )
            .await;
        assert_eq!(reply.status, 201, "consumption: {reply:?}");
        reply.body
    }

    pub async fn wait_for_state(&self, token: &str, id: &str, state: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let reply = self.get(token, &format!("/v1/applications/{id}")).await;
            if reply.status == 200 && reply.body["state"] == state {
                return reply.body;
            }
            assert!(Instant::now() < deadline, "{id} did not reach {state}; last: {reply:?}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The application's events read straight from the stream, with each message's
    /// `Nats-Msg-Id` header and subject.
    pub async fn stream_events(&self, partner: &str, id: &str) -> Vec<(String, Option<String>, Envelope)> {
        let client = async_nats::connect(&self.nats_url).await.expect("connect");
        let js = async_nats::jetstream::new(client);
        let stream = js.get_stream(names::EVENTS_STREAM).await.expect("the stream exists");
        let filter =
            subjects::events_of_application(&PartnerId::parse(partner).unwrap(), &ApplicationId::parse(id).unwrap());
        let last = stream.get_info().await.unwrap().state.last_sequence;
        let consumer = stream
            .create_consumer(pull::OrderedConfig {
                filter_subject: filter,
                deliver_policy: DeliverPolicy::All,
                ..Default::default()
            })
            .await
            .unwrap();
        let mut messages = consumer.messages().await.unwrap();
        let mut events = Vec::new();
        loop {
            let next = tokio::time::timeout(Duration::from_millis(500), messages.next()).await;
            let Ok(Some(Ok(message))) = next else { break };
            let msg_id = message
                .headers
                .as_ref()
                .and_then(|h| h.get("Nats-Msg-Id"))
                .map(|v| v.to_string());
            let info = message.info().unwrap();
            let (pending, sequence) = (info.pending, info.stream_sequence);
            events.push((
                message.subject.to_string(),
                msg_id,
                Envelope::from_json(&message.payload).unwrap(),
            ));
            if pending == 0 || sequence >= last {
                break;
            }
        }
        events
    }
}

/// A nats-server of its own with nothing but what `Bus::connect` provisions, connected as
/// `service`: for tests of the runtime's pieces without the five services. Keep the returned
/// guards alive for as long as the bus is used.
pub async fn bare_bus(service: ServiceName) -> (BareServer, sandpiper_runtime::bus::Bus) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let nats = LocalNats::start(dir.path(), 0).await.expect("nats-server starts");
    let config = sandpiper_runtime::config::CommonConfig::load(
        &std::collections::HashMap::from([("SANDPIPER_NATS_URL".to_owned(), nats.url())]),
        0,
    )
    .expect("a valid config");
    let bus = sandpiper_runtime::bus::Bus::connect(&config, service)
        .await
        .expect("the bus connects");
    (BareServer { _nats: nats, _dir: dir }, bus)
}

/// The server and store behind [`bare_bus`]; dropped, the server stops.
pub struct BareServer {
    _nats: LocalNats,
    _dir: tempfile::TempDir,
}

/// One of the shared example applications (`../shared/examples/NAME.json`).
pub fn example(name: &str) -> Value {
    let path = format!("{}/../../shared/examples/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_slice(&text).unwrap()
}

/// The CloudEvents types of a list of envelopes, shortened to the event name.
pub fn event_names(events: &Value) -> Vec<String> {
    events
        .as_array()
        .expect("an array of events")
        .iter()
        .map(|e| {
            e["type"]
                .as_str()
                .unwrap()
                .trim_start_matches("dev.sandpiper.")
                .trim_end_matches(".v1")
                .to_owned()
        })
        .collect()
}

/// How the stack's nats-server flushes: before every ack, as every deployment does, unless
/// `SANDPIPER_BENCH_SYNC=default` asks for JetStream's default (a bench comparing what the
/// flushes cost; no test sets it). The bench's raw phase reads it too.
pub fn sync_interval() -> SyncInterval {
    match std::env::var("SANDPIPER_BENCH_SYNC").as_deref() {
        Ok("default") => SyncInterval::Default,
        _ => SyncInterval::Always,
    }
}

/// `SANDPIPER_BENCH_READ_MODEL=async` (a bench's what-if; no test and no deployment sets it):
/// the read model's two buckets are made before the stack starts, with nats-server 2.12's
/// per-stream `persist_mode: async`, so their writes are acknowledged before they are flushed
/// while the event stream and every other bucket flush each write. It shows what the read
/// model's flushes cost. (Async persistence is refused on a replicated stream, and an
/// acknowledged record write lost to a crash would leave the record behind the stream until
/// something repairs it, which nothing sweeps for: see README "Performance".)
async fn prepare_read_model(nats_url: &str) {
    use async_nats::jetstream::stream::{Config, DiscardPolicy, PersistenceMode, StorageType};
    if std::env::var("SANDPIPER_BENCH_READ_MODEL").as_deref() != Ok("async") {
        return;
    }
    let client = async_nats::connect(nats_url).await.expect("connect to nats-server");
    let jetstream = async_nats::jetstream::new(client);
    for bucket in [names::VIEWS_BUCKET, names::VIEW_INDEX_BUCKET] {
        // As async-nats's `create_key_value` makes a bucket of history 1, but flushed lazily.
        jetstream
            .create_stream(Config {
                name: format!("KV_{bucket}"),
                subjects: vec![format!("$KV.{bucket}.>")],
                max_messages_per_subject: 1,
                max_bytes: -1,
                max_message_size: -1,
                storage: StorageType::File,
                allow_rollup: true,
                deny_delete: true,
                allow_direct: true,
                discard: DiscardPolicy::New,
                num_replicas: 1,
                persist_mode: Some(PersistenceMode::Async),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("create the bucket {bucket} with async persistence: {e}"));
    }
}
