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
use tokio::task::JoinHandle;

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
    /// Internal address ranges webhook deliveries may reach (local Slack mocks, tests).
    pub webhook_allow: Vec<ipnet::IpNet>,
    /// How deliveries are retried.
    pub delivery: sandpiper_notifier::config::RetryPolicy,
    /// Per-service NATS credentials (user, password), when the server enforces them.
    pub nats_users: HashMap<ServiceName, (String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("the API tokens are invalid: {0}")]
    Tokens(String),
    #[error("sandpiper-{service} could not start: {reason}")]
    Start { service: ServiceName, reason: String },
    #[error("not ready within {timeout:?}: {pending}")]
    NotReady { timeout: Duration, pending: String },
}

struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), String>>,
}

/// The running services.
pub struct Stack {
    config: StackConfig,
    running: HashMap<ServiceName, Running>,
    /// The address each service last listened on (kept across restarts where the port was fixed).
    addrs: HashMap<ServiceName, SocketAddr>,
}

impl Stack {
    /// Starts all five services.
    pub async fn start(config: StackConfig) -> Result<Stack, StackError> {
        Tokens::parse(&config.api_tokens).map_err(|e| StackError::Tokens(e.to_string()))?;
        let mut stack = Stack {
            config,
            running: HashMap::new(),
            addrs: HashMap::new(),
        };
        for service in ServiceName::ALL {
            if let Err(err) = stack.start_service(service).await {
                stack.stop().await;
                return Err(err);
            }
        }
        Ok(stack)
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
            stream_replicas: 1,
        }
    }

    /// Starts (or restarts) one service.
    pub async fn start_service(&mut self, service: ServiceName) -> Result<SocketAddr, StackError> {
        if self.running.contains_key(&service) {
            return Ok(self.addr(service));
        }
        let common = self.common(service);
        let (stop, stopped) = oneshot::channel::<()>();
        let stop_future = async move {
            let _ = stopped.await;
        };
        let failed = |reason: String| StackError::Start { service, reason };
        let (addr, task): (SocketAddr, JoinHandle<Result<(), String>>) = match service {
            ServiceName::Intake => {
                let tokens = Tokens::parse(&self.config.api_tokens).map_err(|e| failed(e.to_string()))?;
                let config = IntakeConfig {
                    common,
                    tokens,
                    max_body_bytes: self.config.max_body_bytes,
                };
                let app = sandpiper_intake::Application::build(config)
                    .await
                    .map_err(|e| failed(e.to_string()))?;
                (
                    app.local_addr(),
                    spawn(async move { app.run_until_stopped(stop_future).await }),
                )
            }
            ServiceName::Classifier => {
                let worker = sandpiper_classifier::build(&common)
                    .await
                    .map_err(|e| failed(e.to_string()))?;
                (
                    worker.local_addr(),
                    spawn(async move { worker.run_until_stopped(stop_future).await }),
                )
            }
            ServiceName::Reviewer => {
                let worker = sandpiper_reviewer::build(&common)
                    .await
                    .map_err(|e| failed(e.to_string()))?;
                (
                    worker.local_addr(),
                    spawn(async move { worker.run_until_stopped(stop_future).await }),
                )
            }
            ServiceName::Scheduler => {
                let worker = sandpiper_scheduler::build(&common)
                    .await
                    .map_err(|e| failed(e.to_string()))?;
                (
                    worker.local_addr(),
                    spawn(async move { worker.run_until_stopped(stop_future).await }),
                )
            }
            ServiceName::Notifier => {
                let tokens = Tokens::parse(&self.config.api_tokens).map_err(|e| failed(e.to_string()))?;
                let config = sandpiper_notifier::config::NotifierConfig {
                    common,
                    tokens,
                    allow: self.config.webhook_allow.clone(),
                    retry: self.config.delivery,
                };
                let notifier = sandpiper_notifier::Notifier::build(config)
                    .await
                    .map_err(|e| failed(e.to_string()))?;
                (
                    notifier.local_addr(),
                    spawn(async move { notifier.run_until_stopped(stop_future).await }),
                )
            }
        };
        self.running.insert(service, Running { addr, stop, task });
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
        match running.task.await {
            Ok(result) => result,
            Err(join) => Err(join.to_string()),
        }
    }

    /// Kills one service mid-work, as a crash or `kill -9` would: nothing is finished or acked.
    pub async fn crash_service(&mut self, service: ServiceName) {
        if let Some(running) = self.running.remove(&service) {
            running.task.abort();
            let _ = running.task.await;
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

/// Runs a service to completion in the background, keeping its error as text.
fn spawn<E: std::fmt::Display>(
    run: impl std::future::Future<Output = Result<(), E>> + Send + 'static,
) -> JoinHandle<Result<(), String>> {
    tokio::spawn(async move { run.await.map_err(|e| e.to_string()) })
}

/// A wildcard listen address is reached on loopback.
fn loopback(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    }
}
