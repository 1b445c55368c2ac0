//! The stack as containers: the images of `./scripts/build-images` (NATS with the per-service
//! users of `deploy/nats/nats-server.conf`, and the five services on the simulated clock) on one
//! Docker network, started with testcontainers and driven through the public API from submission
//! to a decision, with services stopped and started again mid-flow; then the ACE connector's image
//! files an application with a stand-in of Partner Central on this host.
//!
//! It needs a Docker engine and the images (`./scripts/test` runs `./scripts/build-images` first,
//! which provides both); without them it fails saying so, it never skips. Images are
//! `${SANDPIPER_IMAGE_PREFIX:-sandpiper/}<name>:${SANDPIPER_IMAGE_TAG:-dev}`.

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use sandpiper_cli::local_nats::free_port;
use sandpiper_integration_tests::ace_stand_in::{self, AceStandIn};
use sandpiper_integration_tests::{
    ACME, ADMIN, GLOBEX, Reply, SECURED_PASSWORDS, SIMULATED_START, event_names, example,
};
use serde_json::{Value, json};
use testcontainers::clients::Cli;
use testcontainers::core::WaitFor;
use testcontainers::{Container, GenericImage, RunnableImage};
use tokio::task::block_in_place;

/// The five services: name and the port it listens on inside its container.
const SERVICES: [(&str, u16); 5] = [
    ("intake", 8080),
    ("notifier", 8081),
    ("classifier", 8082),
    ("reviewer", 8083),
    ("scheduler", 8084),
];

fn image_name(name: &str) -> (String, String) {
    let prefix = std::env::var("SANDPIPER_IMAGE_PREFIX").unwrap_or_else(|_| "sandpiper/".into());
    let tag = std::env::var("SANDPIPER_IMAGE_TAG").unwrap_or_else(|_| "dev".into());
    (format!("{prefix}{name}"), tag)
}

fn docker(args: &[&str]) -> std::io::Result<std::process::Output> {
    Command::new("docker").args(args).output()
}

/// Fails, saying what to do, unless a Docker engine answers and every image is there.
fn preflight() {
    match docker(&["info", "--format", "{{.ServerVersion}}"]) {
        Err(err) => panic!(
            "the container suite needs the docker CLI ({err}); ./scripts/build-images installs Docker, \
             starts the engine and builds the images"
        ),
        Ok(out) if !out.status.success() => panic!(
            "the container suite needs a Docker engine, and none answers ({}); ./scripts/build-images \
             starts one (as root) and builds the images",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Ok(_) => {}
    }
    let missing: Vec<String> = [
        "nats",
        "intake",
        "notifier",
        "classifier",
        "reviewer",
        "scheduler",
        "ace",
    ]
    .iter()
    .map(|name| {
        let (image, tag) = image_name(name);
        format!("{image}:{tag}")
    })
    .filter(|image| !docker(&["image", "inspect", "--format", "{{.Id}}", image]).is_ok_and(|o| o.status.success()))
    .collect();
    assert!(
        missing.is_empty(),
        "the container suite needs the images {missing:?}: run ./scripts/build-images \
         (or set SANDPIPER_IMAGE_PREFIX / SANDPIPER_IMAGE_TAG to images you have)"
    );
}

/// One service's container and the host port its HTTP port is published on.
struct Service<'d> {
    name: &'static str,
    host_port: u16,
    container: Container<'d, GenericImage>,
}

/// NATS and the five services on their own network; removed (with the network) when dropped.
struct ContainerStack<'d> {
    /// The network; every container's name starts with it.
    network: String,
    nats: Option<Container<'d, GenericImage>>,
    /// NATS as the services reach it on the network.
    nats_url: String,
    services: Vec<Service<'d>>,
    http: reqwest::Client,
}

impl<'d> ContainerStack<'d> {
    /// Starts NATS with auth on, then the five services, each waited for by its start-up log
    /// line and then by `GET /readyz`.
    async fn start(docker: &'d Cli) -> ContainerStack<'d> {
        let unique = format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let network = format!("sandpiper-tc-{unique}");
        let mut stack = ContainerStack {
            network: network.clone(),
            nats: None,
            nats_url: String::new(),
            services: Vec::new(),
            http: reqwest::Client::new(),
        };
        let (nats_image, tag) = image_name("nats");
        let mut image = GenericImage::new(nats_image, tag).with_wait_for(WaitFor::message_on_stderr("Server is ready"));
        for (variable, password) in SECURED_PASSWORDS {
            image = image.with_env_var(*variable, *password);
        }
        let args: Vec<String> = [
            "--config",
            "/etc/nats/sandpiper.conf",
            "--jetstream",
            "--http_port",
            "8222",
        ]
        .map(String::from)
        .to_vec();
        let nats_name = format!("{network}-nats");
        stack.nats = Some(block_in_place(|| {
            docker.run(
                RunnableImage::from((image, args))
                    .with_network(network.clone())
                    .with_container_name(nats_name.clone()),
            )
        }));
        stack.nats_url = format!("nats://{nats_name}:4222");
        stack.provision(&[]);
        for (name, port) in SERVICES {
            stack.run(docker, name, port, &[]).await;
        }
        stack
    }

    /// Runs provisioning as a deployment does, before the services: the intake's image with
    /// `provision` (and the services named; none: the five core ones), as the provisioning user,
    /// to completion. A service's own user could not make its consumer or buckets.
    fn provision(&self, services: &[&str]) {
        let (image, tag) = image_name("intake");
        let url = format!("SANDPIPER_NATS_URL={}", self.nats_url);
        let image = format!("{image}:{tag}");
        let mut args = vec![
            "run",
            "--rm",
            "--network",
            &self.network,
            "-e",
            &url,
            "-e",
            "SANDPIPER_NATS_USER=provision",
            "-e",
            "SANDPIPER_NATS_PASSWORD=provision-secret",
            "-e",
            "SANDPIPER_CLOCK=simulated",
            "-e",
        ];
        let start = format!("SANDPIPER_CLOCK_START={SIMULATED_START}");
        args.extend([start.as_str(), image.as_str(), "provision"]);
        args.extend(services);
        let out = block_in_place(|| docker(&args)).unwrap();
        assert!(
            out.status.success(),
            "provisioning failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs one service's image on the stack's network as its NATS user, with `env` besides the
    /// common settings, and waits until it is ready.
    async fn run(&mut self, docker: &'d Cli, name: &'static str, port: u16, env: &[(&str, String)]) {
        let (service_image, tag) = image_name(name);
        let mut image = GenericImage::new(service_image, tag)
            .with_wait_for(WaitFor::message_on_stdout(format!("sandpiper-{name} started")))
            .with_env_var("SANDPIPER_NATS_URL", self.nats_url.clone())
            .with_env_var("SANDPIPER_NATS_USER", name)
            .with_env_var("SANDPIPER_NATS_PASSWORD", format!("{name}-secret"))
            .with_env_var("SANDPIPER_CLOCK", "simulated")
            .with_env_var("SANDPIPER_CLOCK_START", SIMULATED_START)
            .with_env_var("SANDPIPER_LOG_FORMAT", "json");
        if matches!(name, "intake" | "notifier") {
            image = image.with_env_var(
                "SANDPIPER_API_TOKENS",
                format!("acme:{ACME},globex:{GLOBEX},admin:{ADMIN}"),
            );
        }
        for (variable, value) in env {
            image = image.with_env_var(*variable, value.clone());
        }
        // A fixed host port, so the service is found at the same address after a restart.
        let host_port = free_port().unwrap();
        let network = self.network.clone();
        let container = block_in_place(|| {
            docker.run(
                RunnableImage::from(image)
                    .with_network(network.clone())
                    .with_container_name(format!("{network}-{name}"))
                    .with_mapped_port((host_port, port)),
            )
        });
        self.services.push(Service {
            name,
            host_port,
            container,
        });
        self.wait_ready(name).await;
    }

    fn service(&self, name: &str) -> &Service<'d> {
        self.services.iter().find(|s| s.name == name).unwrap()
    }

    /// Polls the service's `/readyz` until it answers 200 (30 s at most).
    async fn wait_ready(&self, name: &str) {
        let url = format!("http://127.0.0.1:{}/readyz", self.service(name).host_port);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let last = match self.http.get(&url).send().await {
                Ok(response) if response.status().is_success() => return,
                Ok(response) => format!("{}: {}", response.status(), response.text().await.unwrap_or_default()),
                Err(err) => err.to_string(),
            };
            assert!(Instant::now() < deadline, "{name} is not ready after 30 s: {last}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `docker stop` (SIGTERM: the service drains and exits) and, later, `docker start`.
    fn stop(&self, name: &str) {
        block_in_place(|| self.service(name).container.stop());
    }

    async fn start_again(&self, name: &str) {
        block_in_place(|| self.service(name).container.start());
        self.wait_ready(name).await;
    }

    /// The stack network's gateway: this host as the containers reach it.
    fn network_gateway(&self) -> String {
        let out = docker(&[
            "network",
            "inspect",
            "--format",
            "{{(index .IPAM.Config 0).Gateway}}",
            &self.network,
        ])
        .unwrap();
        let gateway = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(!gateway.is_empty(), "the network {} has no gateway", self.network);
        gateway
    }

    fn inspect(&self, name: &str, format: &str) -> String {
        let id = self.service(name).container.id();
        let out = docker(&["inspect", "--format", format, id]).unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn api(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.service("intake").host_port)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        Reply::read(request).await
    }

    async fn get(&self, token: &str, path: &str) -> Reply {
        self.send(self.http.get(self.api(path)).bearer_auth(token)).await
    }

    async fn post(&self, token: &str, path: &str, body: &Value) -> Reply {
        self.send(self.http.post(self.api(path)).bearer_auth(token).json(body))
            .await
    }

    /// Polls the application until it reaches `state` (30 s at most).
    async fn wait_for_state(&self, id: &str, state: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let reply = self.get(ACME, &format!("/v1/applications/{id}")).await;
            if reply.status == 200 && reply.body["state"] == state {
                return reply.body;
            }
            assert!(Instant::now() < deadline, "{id} did not reach {state}; last: {reply:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn history(&self, id: &str) -> Vec<String> {
        event_names(&self.get(ACME, &format!("/v1/applications/{id}/events")).await.body)
    }
}

impl Drop for ContainerStack<'_> {
    /// On a failure, the containers' last log lines, to see why; and the removal of a container
    /// that failed to start (testcontainers removes those it handed out, then the network).
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let filter = format!("name=^/{}-", self.network);
        let Ok(listed) = docker(&["ps", "-aq", "--no-trunc", "--filter", &filter]) else {
            return;
        };
        let tracked: Vec<&str> = self
            .nats
            .iter()
            .map(|c| c.id())
            .chain(self.services.iter().map(|s| s.container.id()))
            .collect();
        for id in String::from_utf8_lossy(&listed.stdout).lines() {
            if let Ok(out) = docker(&["logs", "--tail", "40", id]) {
                let name = docker(&["inspect", "--format", "{{.Name}}", id])
                    .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                    .unwrap_or_default();
                eprintln!(
                    "--- {name} ({id}):\n{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            if !tracked.contains(&id) {
                let _ = docker(&["rm", "-f", "-v", id]);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_take_an_application_to_a_decision_through_restarts() {
    preflight();
    sandpiper_runtime::http::ensure_crypto_provider();
    let docker = Cli::default();
    let mut stack = ContainerStack::start(&docker).await;

    for (name, _) in SERVICES {
        assert_eq!(
            stack.inspect(name, "{{.Config.User}}"),
            "10001:10001",
            "{name} runs as non-root"
        );
    }

    // The intake's image serves the console on the API's port, templates and files built in.
    let sign_in = stack.send(stack.http.get(stack.api("/console/sign-in"))).await;
    assert_eq!(sign_in.status, 200, "{sign_in:?}");
    assert!(
        sign_in
            .body
            .as_str()
            .unwrap_or_default()
            .contains("Sign in to Sandpiper")
    );
    let script = stack
        .send(stack.http.get(stack.api("/console/static/console.js")))
        .await;
    assert_eq!(script.status, 200);

    // The classifier is down: a submission is taken and waits in its durable consumer.
    stack.stop("classifier");
    assert_eq!(
        stack.inspect("classifier", "{{.State.ExitCode}}"),
        "0",
        "a clean exit on SIGTERM"
    );
    let created = stack
        .post(ACME, "/v1/applications", &example("bedrock-agents-support"))
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let id = created.body["id"].as_str().unwrap().to_owned();
    let submit = stack.http.post(stack.api(&format!("/v1/applications/{id}/submit")));
    let submitted = stack.send(submit.bearer_auth(ACME)).await;
    assert_eq!(submitted.status, 202, "{submitted:?}");
    assert_eq!(
        stack.get(ACME, &format!("/v1/applications/{id}")).await.body["state"],
        "submitted"
    );

    // Back up, it classifies what waited; the review starts with its durable timer.
    stack.start_again("classifier").await;
    stack.wait_for_state(&id, "in_review").await;
    assert_eq!(stack.history(&id).await, ["drafted", "submitted", "classified"]);

    // The intake rebuilds its projection from the stream; the reviewer keeps its timer in NATS.
    for name in ["intake", "reviewer"] {
        stack.stop(name);
        stack.start_again(name).await;
    }
    let view = stack.get(ACME, &format!("/v1/applications/{id}")).await.body;
    assert_eq!(view["state"], "in_review", "{view}");
    assert_eq!(stack.history(&id).await, ["drafted", "submitted", "classified"]);

    // The partner cannot move the clock; the admin moves it past the review period (T6).
    let refused = stack.post(ACME, "/v1/clock/advance", &json!({"days": 12})).await;
    assert_eq!(refused.status, 403, "{refused:?}");
    let advanced = stack.post(ADMIN, "/v1/clock/advance", &json!({"days": 12})).await;
    assert_eq!(advanced.status, 200, "{advanced:?}");
    let decided = stack.wait_for_state(&id, "active").await;
    assert_eq!(decided["decision"]["tier_usd"], 20000, "{decided}");
    assert_eq!(decided["decision"]["decided_at"], "2026-03-14T09:00:00Z");
    assert_eq!(decided["credits"]["amount_usd"], 20000, "{decided}");
    let history = stack.history(&id).await;
    assert_eq!(history[..3], ["drafted", "submitted", "classified"]);
    for once in ["classified", "approved", "credits_applied"] {
        assert_eq!(
            history.iter().filter(|e| *e == once).count(),
            1,
            "{once} exactly once: {history:?}"
        );
    }

    // The connector's image files through the AWS SDK's standard credential chain (keys in its
    // environment) to a stand-in on this host, reached through the network's gateway.
    let stand_in = AceStandIn::start_on("0.0.0.0").await;
    let gateway = stack.network_gateway();
    let endpoint = format!("http://{gateway}:{}", stand_in.port());
    let env = [
        ("SANDPIPER_ACE_ENDPOINT_URL", endpoint),
        ("SANDPIPER_ACE_POLL_SECONDS", "0.5".to_owned()),
        ("AWS_ACCESS_KEY_ID", ace_stand_in::ACCESS_KEY_ID.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", ace_stand_in::SECRET_ACCESS_KEY.to_owned()),
    ];
    // The connector's consumer is provisioned where the connector is deployed.
    stack.provision(&["ace"]);
    stack.run(&docker, "ace", 8085, &env).await;
    assert_eq!(
        stack.inspect("ace", "{{.Config.User}}"),
        "10001:10001",
        "ace runs as non-root"
    );
    let created = stack
        .post(ACME, "/v1/applications", &example("amazon-q-business-docs"))
        .await;
    let filed_id = created.body["id"].as_str().unwrap().to_owned();
    let submit = stack
        .http
        .post(stack.api(&format!("/v1/applications/{filed_id}/submit")));
    assert_eq!(stack.send(submit.bearer_auth(ACME)).await.status, 202);
    let deadline = Instant::now() + Duration::from_secs(30);
    let filed = loop {
        let view = stack.get(ACME, &format!("/v1/applications/{filed_id}")).await.body;
        if !view["ace"].is_null() {
            break view;
        }
        assert!(Instant::now() < deadline, "not filed by the ace container: {view}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let state = stand_in.state().await;
    assert_eq!(state["rejected"], json!([]), "requests the models refuse");
    assert_eq!(state["quota_exceeded"], json!(0));
    let benefit = filed["ace"]["benefit_application_id"].as_str().unwrap();
    assert_eq!(state["benefit_applications"][benefit]["Status"], "IN_REVIEW", "{state}");

    // Every image's HEALTHCHECK (GET /healthz without curl) reports healthy.
    let deadline = Instant::now() + Duration::from_secs(60);
    for name in SERVICES.iter().map(|(name, _)| *name).chain(["ace"]) {
        loop {
            let health = stack.inspect(name, "{{.State.Health.Status}}");
            if health == "healthy" {
                break;
            }
            assert!(Instant::now() < deadline, "{name} health: {health}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
