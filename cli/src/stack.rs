//! The five services in one process: what `sandpiper up` runs and what the integration tests
//! drive. Each service keeps its own NATS connection and HTTP port, exactly as it would in its own
//! container, and can be stopped gracefully, crashed, or restarted on its own.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sandpiper_contracts::names::ServiceName;
use sandpiper_intake::config::IntakeConfig;
use sandpiper_runtime::config::{ClockMode, CommonConfig};
use sandpiper_runtime::http::auth::Tokens;
use tokio::sync::oneshot;

/// How the stack runs.
#[derive(Debug, Clone)]
pub struct StackConfig {
    pub nats_url: String,
    pub clock: ClockMode,
    /// `principal:token,…` for the intake.
    pub api_tokens: String,
    /// Where the intake listens (port 0: any free port).
    pub api_addr: SocketAddr,
    /// Where the notifier listens.
    pub notifier_addr: SocketAddr,
    pub max_body_bytes: usize,
    /// The intake's ACE export settings (`SANDPIPER_ACE_*` for `sandpiper up`).
    pub ace: sandpiper_intake::ace::AceSettings,
    /// Internal address ranges webhook deliveries may reach (local Slack mocks, tests).
    pub webhook_allow: Vec<ipnet::IpNet>,
    /// How deliveries are retried.
    pub delivery: sandpiper_notifier::config::RetryPolicy,
    /// The Slack app's signing secret (`SANDPIPER_SLACK_SIGNING_SECRET`); none: its routes are off.
    pub slack_signing_secret: Option<String>,
    /// How long a slash command is answered on its own request before it goes through
    /// `response_url` (`SANDPIPER_SLACK_ANSWER_WITHIN_MS`).
    pub slack_answer_within: Duration,
    /// Replicas of the stream and buckets (`SANDPIPER_STREAM_REPLICAS`): 1 on one node, 3 on a
    /// three-node cluster.
    pub stream_replicas: usize,
    /// Per-service NATS credentials (user, password), when the server enforces them.
    pub nats_users: HashMap<ServiceName, (String, String)>,
    /// The provisioning step's NATS credentials (user, password), when the server enforces them:
    /// the one user that may create the streams, buckets and consumers the services use.
    pub provisioner: Option<(String, String)>,
    /// The console's sessions and trusted-proxy sign-in (`SANDPIPER_CONSOLE_*` for `up`).
    pub console: sandpiper_console::settings::ConsoleSettings,
    /// Who decides reviews (`SANDPIPER_REVIEW`): the simulation, or AWS through the connector.
    pub review: sandpiper_runtime::config::ReviewMode,
    /// The ACE connector's settings; none: it does not run (the default).
    pub ace_connector: Option<sandpiper_ace::ConnectorSettings>,
}

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("the API tokens are invalid: {0}")]
    Tokens(String),
    #[error("sandpiper-{service} could not start: {reason}")]
    Start { service: ServiceName, reason: String },
    #[error("provisioning NATS failed: {0}")]
    Provision(String),
    #[error("not ready within {timeout:?}: {pending}")]
    NotReady { timeout: Duration, pending: String },
}

struct Running {
    addr: SocketAddr,
    /// Graceful stop: finish in-flight work, drain, return.
    stop: oneshot::Sender<()>,
    /// Crash: drop the service and its runtime where they stand.
    crash: oneshot::Sender<()>,
    /// The service's result once its thread is done.
    done: oneshot::Receiver<Result<(), String>>,
}

/// The running services.
pub struct Stack {
    config: StackConfig,
    running: HashMap<ServiceName, Running>,
    /// The address each service last listened on (kept across restarts where the port was fixed).
    addrs: HashMap<ServiceName, SocketAddr>,
}

/// The stack of each service's threads (the default 2 MiB is tight for unoptimised builds).
const SERVICE_STACK_BYTES: usize = 16 << 20;

impl Stack {
    /// Starts the five core services, and the ACE connector if it is configured.
    pub async fn start(config: StackConfig) -> Result<Stack, StackError> {
        Tokens::parse(&config.api_tokens).map_err(|e| StackError::Tokens(e.to_string()))?;
        let mut stack = Stack {
            config,
            running: HashMap::new(),
            addrs: HashMap::new(),
        };
        stack.provision().await?;
        for service in stack.services() {
            if let Err(err) = stack.start_service(service).await {
                stack.stop().await;
                return Err(err);
            }
        }
        Ok(stack)
    }

    /// Provisions NATS as a deployment's separate step does (`sandpiper-intake provision`),
    /// under the provisioning user when there is one, before any service starts.
    pub async fn provision(&self) -> Result<(), StackError> {
        let failed = |e: &dyn std::fmt::Display| StackError::Provision(e.to_string());
        let common = CommonConfig {
            nats_user: self.config.provisioner.clone(),
            ..self.common(ServiceName::Intake)
        };
        let bus = sandpiper_runtime::bus::Bus::connect(&common, ServiceName::Intake)
            .await
            .map_err(|e| failed(&sandpiper_runtime::errors::error_chain(&e)))?;
        let settings = sandpiper_runtime::provision::Provisioning::new(
            self.config.clock,
            self.config.console.session,
            self.services(),
        );
        let provisioned = sandpiper_runtime::provision::provision(&bus, &settings).await;
        bus.drain().await;
        provisioned.map_err(|e| failed(&sandpiper_runtime::errors::error_chain(&e)))?;
        Ok(())
    }

    /// The services this stack runs: the five core ones, and the ACE connector when configured.
    pub fn services(&self) -> Vec<ServiceName> {
        let connector = self.config.ace_connector.is_some().then_some(ServiceName::Ace);
        ServiceName::CORE.into_iter().chain(connector).collect()
    }

    fn common(&self, service: ServiceName) -> CommonConfig {
        let http_addr = match service {
            ServiceName::Intake => self.config.api_addr,
            ServiceName::Notifier => self.config.notifier_addr,
            _ => SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        CommonConfig {
            nats_url: self.config.nats_url.clone(),
            nats_user: self.config.nats_users.get(&service).cloned(),
            http_addr,
            clock: self.config.clock,
            stream_replicas: self.config.stream_replicas,
            review: self.config.review,
        }
    }

    /// Starts (or restarts) one service on its own thread and Tokio runtime, so that a crash can
    /// take down everything it spawned (its tasks, its NATS connection) and nothing else.
    pub async fn start_service(&mut self, service: ServiceName) -> Result<SocketAddr, StackError> {
        if self.running.contains_key(&service) {
            return Ok(self.addr(service));
        }
        let common = self.common(service);
        let config = self.config.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let (crash, crashed) = oneshot::channel::<()>();
        let (ready_tx, ready) = oneshot::channel::<Result<SocketAddr, String>>();
        let (done_tx, done) = oneshot::channel::<Result<(), String>>();
        let failed = |reason: String| StackError::Start { service, reason };
        std::thread::Builder::new()
            .name(format!("sandpiper-{service}"))
            // Debug builds keep every nested future's state on the stack: room for them.
            .stack_size(SERVICE_STACK_BYTES)
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_stack_size(SERVICE_STACK_BYTES)
                    .thread_name(format!("sandpiper-{service}"))
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(err) => {
                        let _ = ready_tx.send(Err(format!("cannot start a runtime: {err}")));
                        return;
                    }
                };
                let stop_future = async move {
                    let _ = stopped.await;
                };
                let result = runtime.block_on(async move {
                    tokio::select! {
                        result = build_and_run(service, common, config, ready_tx, stop_future) => result,
                        // A crash: the service's future is dropped mid-work, nothing finished or acked.
                        Ok(()) = crashed => Err("crashed".to_string()),
                    }
                });
                // Drops every task the service spawned, its NATS connection among them.
                runtime.shutdown_background();
                let _ = done_tx.send(result);
            })
            .map_err(|e| failed(e.to_string()))?;
        let addr = match ready.await {
            Ok(Ok(addr)) => addr,
            Ok(Err(reason)) => return Err(failed(reason)),
            Err(_) => return Err(failed("the service thread ended before it was ready".into())),
        };
        self.running.insert(
            service,
            Running {
                addr,
                stop,
                crash,
                done,
            },
        );
        self.addrs.insert(service, addr);
        Ok(addr)
    }

    /// The service's HTTP address (its last one, if it is stopped).
    pub fn addr(&self, service: ServiceName) -> SocketAddr {
        self.addrs
            .get(&service)
            .copied()
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn api_url(&self) -> String {
        format!("http://{}", loopback(self.addr(ServiceName::Intake)))
    }

    pub fn notifier_url(&self) -> String {
        format!("http://{}", loopback(self.addr(ServiceName::Notifier)))
    }

    /// Stops one service gracefully: it finishes in-flight work and drains its connection.
    pub async fn stop_service(&mut self, service: ServiceName) -> Result<(), String> {
        let Some(running) = self.running.remove(&service) else {
            return Ok(());
        };
        let _ = running.stop.send(());
        running
            .done
            .await
            .unwrap_or_else(|_| Err("the service thread ended without a result".into()))
    }

    /// Kills one service mid-work, as a crash or `kill -9` would: nothing is finished or acked.
    pub async fn crash_service(&mut self, service: ServiceName) {
        if let Some(running) = self.running.remove(&service) {
            let _ = running.crash.send(());
            let _ = running.done.await;
        }
    }

    /// Waits until every running service answers `/readyz` with 200.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), StackError> {
        sandpiper_runtime::http::ensure_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| StackError::NotReady {
                timeout,
                pending: e.to_string(),
            })?;
        let deadline = Instant::now() + timeout;
        loop {
            let mut pending = Vec::new();
            for (service, running) in &self.running {
                let url = format!("http://{}/readyz", loopback(running.addr));
                let ready = client.get(&url).send().await.is_ok_and(|r| r.status().is_success());
                if !ready {
                    pending.push(service.as_str());
                }
            }
            if pending.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                pending.sort_unstable();
                return Err(StackError::NotReady {
                    timeout,
                    pending: format!("not ready: {}", pending.join(", ")),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops every service gracefully, the intake first so no new work arrives.
    pub async fn stop(mut self) {
        for service in ServiceName::ALL {
            if let Err(err) = self.stop_service(service).await {
                tracing::warn!(%service, error = %err, "stopped with an error");
            }
        }
    }
}

/// Builds one service, reports its address on `ready`, then runs it until `stop`.
async fn build_and_run(
    service: ServiceName,
    common: CommonConfig,
    config: StackConfig,
    ready: oneshot::Sender<Result<SocketAddr, String>>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    macro_rules! run {
        ($built:expr) => {
            match $built {
                Ok(built) => {
                    let _ = ready.send(Ok(built.local_addr()));
                    built.run_until_stopped(stop).await.map_err(|e| e.to_string())
                }
                Err(err) => {
                    let reason = err.to_string();
                    let _ = ready.send(Err(reason.clone()));
                    Err(reason)
                }
            }
        };
    }
    let tokens = || Tokens::parse(&config.api_tokens).map_err(|e| e.to_string());
    match service {
        ServiceName::Intake => run!(match tokens() {
            Ok(tokens) => {
                sandpiper_intake::Application::build(IntakeConfig {
                    common,
                    tokens,
                    max_body_bytes: config.max_body_bytes,
                    ace: config.ace.clone(),
                    public_url: None,
                    console: config.console.clone(),
                })
                .await
                .map_err(|e| e.to_string())
            }
            Err(err) => Err(err),
        }),
        ServiceName::Classifier => run!(sandpiper_classifier::build(&common).await),
        ServiceName::Ace => run!(match &config.ace_connector {
            Some(connector) => sandpiper_ace::AceService::build(&sandpiper_ace::AceConfig {
                common,
                connector: connector.clone(),
            })
            .await
            .map_err(|e| e.to_string()),
            None => Err("the ACE connector is not configured".to_owned()),
        }),
        ServiceName::Reviewer => run!(sandpiper_reviewer::build(&common).await),
        ServiceName::Scheduler => run!(sandpiper_scheduler::build(&common).await),
        ServiceName::Notifier => run!(match tokens() {
            Ok(tokens) => sandpiper_notifier::Notifier::build(sandpiper_notifier::config::NotifierConfig {
                common,
                tokens,
                allow: config.webhook_allow.clone(),
                retry: config.delivery,
                slack_signing_secret: config.slack_signing_secret.clone(),
                slack_answer_within: config.slack_answer_within,
            })
            .await
            .map_err(|e| e.to_string()),
            Err(err) => Err(err),
        }),
    }
}

/// A wildcard listen address is reached on loopback.
fn loopback(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    }
}
