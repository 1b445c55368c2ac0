//! A handle on `scripts/ace-stand-in.py`: a local Partner Central Selling and Benefits that checks
//! every request against botocore's published models, for tests that point the real AWS SDK
//! (`aws-sdk-partnercentralselling` / `-benefits`) at it with `endpoint_url`. No AWS endpoint is
//! reachable from the test machines, and the models are what AWS will hold the requests to.
//!
//! The stand-in runs as a child process on a loopback port with its state in a temp dir, so a
//! test can stop and restart it (same port, same state) as it would an outage. Its control API
//! scripts AWS's side: reviews, throttling, delayed answers. See the script's docstring for what
//! it checks and what it cannot.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The only access key the stand-in accepts (it checks the SigV4 credential's key id).
pub const ACCESS_KEY_ID: &str = "AKIDSANDPIPERTEST";
/// Any secret signs: the stand-in checks the form and scope of the signature, not its bytes.
pub const SECRET_ACCESS_KEY: &str = "sandpiper-stand-in-secret";
/// Partner Central is us-east-1 only; the stand-in refuses credentials scoped elsewhere.
pub const REGION: &str = "us-east-1";

/// A running stand-in. Dropped, the child is killed (`kill_on_drop`) and its state dir removed.
pub struct AceStandIn {
    /// `http://127.0.0.1:PORT`, the SDKs' `endpoint_url` and the control API's base.
    pub url: String,
    host: String,
    port: u16,
    state_file: PathBuf,
    child: Option<Child>,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// The repository root: the stand-in is a script of it, run by its venv's Python.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `SANDPIPER_ACE_PYTHON`, else the venv `scripts/install-deps` makes (which has botocore).
fn python() -> PathBuf {
    std::env::var_os("SANDPIPER_ACE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".tools/venv/bin/python"))
}

impl AceStandIn {
    /// Starts a stand-in on a free port with an empty state.
    pub async fn start() -> AceStandIn {
        AceStandIn::start_on("127.0.0.1").await
    }

    /// Starts a stand-in listening on `host` (`0.0.0.0`: reachable from containers too, through
    /// their network's gateway).
    pub async fn start_on(host: &str) -> AceStandIn {
        // The control API's client is reqwest on rustls without a default provider.
        sandpiper_runtime::http::ensure_crypto_provider();
        let dir = tempfile::tempdir().expect("a temp dir for the stand-in's state");
        let state_file = dir.path().join("state.json");
        let (child, url, port) = spawn(&state_file, host, 0).await;
        AceStandIn {
            url,
            host: host.to_owned(),
            port,
            state_file,
            child: Some(child),
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// Kills the stand-in (no goodbye, like a crash) and waits for it. Its state is already on
    /// disk: the stand-in writes it after every change.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("the stand-in is killed");
        }
    }

    /// Stops it if running and starts it again on the same port with the same state file.
    pub async fn restart(&mut self) {
        self.stop().await;
        let (child, url, _) = spawn(&self.state_file, &self.host, self.port).await;
        assert_eq!(url, self.url, "the stand-in came back on another address");
        self.child = Some(child);
    }

    /// The port it listens on (kept across restarts).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The stand-in's whole state (`GET /_stand-in/state`): resources, calls, rejections,
    /// quota counters, `stand_in_bugs`.
    pub async fn state(&self) -> Value {
        self.control_get("/_stand-in/state").await
    }

    /// Scripts AWS's review of a submitted benefit application: `status` is IN_REVIEW,
    /// ACTION_REQUIRED, APPROVED (with `amount_usd`) or REJECTED. The linked opportunity's
    /// ReviewStatus follows. Answers the updated application.
    pub async fn review(
        &self,
        benefit_application_id: &str,
        status: &str,
        amount_usd: Option<i64>,
        comments: Option<&str>,
    ) -> Value {
        let mut body = json!({"benefit_application_id": benefit_application_id, "status": status});
        if let Some(amount) = amount_usd {
            body["amount_usd"] = json!(amount);
        }
        if let Some(comments) = comments {
            body["comments"] = json!(comments);
        }
        self.control("/_stand-in/review", &body).await
    }

    /// Every AWS call answers ThrottlingException for the next `seconds` (0 ends it).
    pub async fn throttle(&self, seconds: f64) {
        self.control("/_stand-in/throttle", &json!({"seconds": seconds})).await;
    }

    /// The next call of `operation` is carried out at once but answered `seconds` later, so a
    /// test can crash the caller between AWS's change and the caller's record of it.
    pub async fn hold(&self, operation: &str, seconds: f64) {
        self.control("/_stand-in/hold", &json!({"operation": operation, "seconds": seconds}))
            .await;
    }

    /// Zeroes the call and rate counters (not the resources).
    pub async fn reset_counters(&self) {
        self.control("/_stand-in/reset-counters", &json!({})).await;
    }

    async fn control(&self, path: &str, body: &Value) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("the stand-in's {path} answers: {e}"));
        read_control(path, response).await
    }

    async fn control_get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap_or_else(|e| panic!("the stand-in's {path} answers: {e}"));
        read_control(path, response).await
    }
}

async fn read_control(path: &str, response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.expect("a JSON control answer");
    assert!(status.is_success(), "the stand-in's {path} answered {status}: {body}");
    body
}

/// Spawns the script on `port` (0: any) and reads its `listening http://…` line.
async fn spawn(state_file: &Path, host: &str, port: u16) -> (Child, String, u16) {
    let python = python();
    let script = repo().join("scripts/ace-stand-in.py");
    let mut child = Command::new(&python)
        .arg(&script)
        .arg("--state")
        .arg(state_file)
        .args([
            "--host",
            host,
            "--port",
            &port.to_string(),
            "--access-key-id",
            ACCESS_KEY_ID,
            "--region",
            REGION,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}): the ACE stand-in needs Python 3 with botocore; run scripts/install-deps \
                 or set SANDPIPER_ACE_PYTHON to such a Python",
                python.display()
            )
        });
    let stdout = child.stdout.take().expect("the stand-in's stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await;
    let line = match line {
        Ok(Ok(Some(line))) => line,
        Ok(_) => {
            let status = child.wait().await.expect("the stand-in's exit status");
            panic!(
                "the ACE stand-in ({} {}) exited ({status}) before listening; its stderr above says why \
                 (botocore missing: run scripts/install-deps or set SANDPIPER_ACE_PYTHON)",
                python.display(),
                script.display()
            )
        }
        Err(_) => panic!("the ACE stand-in printed no `listening` line within 20 s"),
    };
    let url = line
        .strip_prefix("listening ")
        .unwrap_or_else(|| panic!("the stand-in printed {line:?}, not `listening http://…`"))
        .to_owned();
    let port = url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {url:?}"));
    (child, url, port)
}
