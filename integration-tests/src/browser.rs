//! A real browser for the console's tests: Debian's headless Chromium, driven over the W3C
//! WebDriver protocol by Debian's chromedriver, on a port of its own.
//!
//! The client is the dozen WebDriver commands the tests use, over the `reqwest` the tests
//! already have. (fantoccini would bring its own TLS stack, aws-lc-rs or OpenSSL, for a
//! driver that is only ever on loopback HTTP.) The browser is named outright and started with
//! every background service off, so it never tries to download anything or report usage.
//!
//! `SANDPIPER_CHROMIUM`, `SANDPIPER_CHROMEDRIVER` and `SANDPIPER_AXE_JS` override the paths
//! `scripts/install-browser` installs to. A test that needs the browser fails, loudly, when it
//! is missing: it never skips.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

/// The W3C element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn tool(variable: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    assert!(
        path.exists(),
        "the browser tests need {} ({variable}); run ./scripts/install-browser (as root it installs Debian's chromium and chromium-driver)",
        path.display()
    );
    path
}

/// Where axe-core's script is.
pub fn axe_js() -> PathBuf {
    let default = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.tools/axe/node_modules/axe-core/axe.min.js");
    tool("SANDPIPER_AXE_JS", &default.to_string_lossy())
}

/// Where screenshots go: `target/console-screenshots/` (the README's images are copied from it).
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots");
    std::fs::create_dir_all(&dir).expect("a screenshot directory");
    dir
}

/// One browser session.
pub struct Browser {
    driver: tokio::process::Child,
    http: reqwest::Client,
    session: String,
    base: String,
    _profile: tempfile::TempDir,
}

/// An element of the page.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Browser {
    pub async fn start() -> Browser {
        let chromium = tool("SANDPIPER_CHROMIUM", "/usr/bin/chromium");
        let chromedriver = tool("SANDPIPER_CHROMEDRIVER", "/usr/bin/chromedriver");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = tokio::process::Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that Drop can end Chromium (the driver's child) with it.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("chromedriver ({}) does not start: {e}", chromedriver.display()));
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let ready = async {
                let status: Value = http
                    .get(format!("{base}/status"))
                    .send()
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                status["value"]["ready"].as_bool()
            };
            if ready.await == Some(true) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver did not answer on {base} within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().expect("a browser profile dir");
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-breakpad",
            "--disable-client-side-phishing-detection",
            "--disable-domain-reliability",
            "--no-pings",
            "--metrics-recording-only",
            "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,CertificateTransparencyComponentUpdater",
            "--window-size=1360,1800",
        ];
        let mut args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        }}});
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("chromedriver takes the session request")
            .json()
            .await
            .expect("a JSON answer");
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {created}"))
            .to_owned();
        Browser {
            driver,
            http,
            session,
            base,
            _profile: profile,
        }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.try_command(method, path, body)
            .await
            .unwrap_or_else(|error| panic!("WebDriver {path}: {error}"))
    }

    /// Sends one WebDriver command; a WebDriver error comes back as `Err("<error>: <message>")`.
    async fn try_command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let request = self.http.request(method, &url);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        let answer: Value = request
            .send()
            .await
            .map_err(|e| format!("chromedriver did not answer: {e}"))?
            .json()
            .await
            .map_err(|e| format!("chromedriver's answer is not JSON: {e}"))?;
        match answer["value"]["error"].as_str() {
            Some(error) => Err(format!("{error}: {}", answer["value"]["message"])),
            None => Ok(answer["value"].clone()),
        }
    }

    /// Reads something of the element `css` selects now. A page script may replace that element
    /// between the find and the read (the console re-renders a live preflight as fields change):
    /// the read then answers "stale element reference", and the element is found again.
    async fn read_element(&self, css: &str, what: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let element = self.find(css).await;
            let path = format!("/element/{}{what}", element.0);
            match self.try_command(reqwest::Method::GET, &path, None).await {
                Ok(value) => return value.as_str().unwrap_or_default().to_owned(),
                Err(error)
                    if error.starts_with("stale element reference") && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(error) => panic!("WebDriver {path} ({css}): {error}"),
            }
        }
    }

    pub async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    pub async fn url(&self) -> String {
        self.command(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn source(&self) -> String {
        self.command(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The first element matching a CSS selector, waiting up to 10 s for it to appear.
    pub async fn find(&self, css: &str) -> Element {
        let query = json!({"using": "css selector", "value": css});
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match self
                .try_command(reqwest::Method::POST, "/element", Some(query.clone()))
                .await
            {
                Ok(found) => {
                    let id = found[ELEMENT]
                        .as_str()
                        .unwrap_or_else(|| panic!("an element reference: {found}"))
                        .to_owned();
                    return Element(id);
                }
                Err(error) if tokio::time::Instant::now() < deadline && error.starts_with("no such element") => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("no element {css}: {error}\n{}", self.source().await),
            }
        }
    }

    /// Whether an element matching `css` is on the page now.
    pub async fn has(&self, css: &str) -> bool {
        let query = json!({"using": "css selector", "value": css});
        self.try_command(reqwest::Method::POST, "/elements", Some(query))
            .await
            .ok()
            .and_then(|v| v.as_array().map(|a| !a.is_empty()))
            .unwrap_or(false)
    }

    pub async fn click(&self, element: &Element) {
        let path = format!("/element/{}/click", element.0);
        self.command(reqwest::Method::POST, &path, Some(json!({}))).await;
    }

    pub async fn clear(&self, element: &Element) {
        let path = format!("/element/{}/clear", element.0);
        self.command(reqwest::Method::POST, &path, Some(json!({}))).await;
    }

    /// Types into an element, key by key, as a user does (each key fires `input`).
    pub async fn type_into(&self, element: &Element, text: &str) {
        let path = format!("/element/{}/value", element.0);
        self.command(reqwest::Method::POST, &path, Some(json!({"text": text})))
            .await;
    }

    /// Replaces an input's text: clear, then type.
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.clear(&element).await;
        self.type_into(&element, text).await;
    }

    /// Picks a `<select>`'s option by its value.
    pub async fn select(&self, select_css: &str, value: &str) {
        let option = self.find(&format!("{select_css} option[value=\"{value}\"]")).await;
        self.click(&option).await;
    }

    pub async fn text(&self, element: &Element) -> String {
        let path = format!("/element/{}/text", element.0);
        self.command(reqwest::Method::GET, &path, None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The rendered text of the element `css` selects, found again if the page replaced it.
    pub async fn text_of(&self, css: &str) -> String {
        self.read_element(css, "/text").await
    }

    pub async fn attribute(&self, css: &str, name: &str) -> String {
        self.read_element(css, &format!("/attribute/{name}")).await
    }

    /// Runs a script in the page (a returned promise is awaited).
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Waits until `css`'s text satisfies `done`, and returns it.
    pub async fn wait_for_text(&self, css: &str, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let text = if self.has(css).await {
                self.text_of(css).await
            } else {
                String::new()
            };
            if done(&text) {
                return text;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: {css} still reads {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Saves a PNG of the page as it is now, under [`screenshot_dir`].
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        use base64::Engine;
        let encoded = self.command(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .expect("a base64 PNG");
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, bytes).expect("the screenshot is written");
        path
    }

    /// Runs axe-core on the page (WCAG 2 A and AA rules) and returns its violations, each as
    /// `rule: the failing elements`.
    pub async fn accessibility_violations(&self) -> Vec<String> {
        let axe = std::fs::read_to_string(axe_js()).expect("axe.min.js is readable");
        let script = format!(
            "{axe}\nreturn axe.run(document, {{runOnly: {{type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}}}})\
             .then(function (r) {{ return r.violations.map(function (v) {{ \
             return v.id + ': ' + v.help + ' [' + v.nodes.map(function (n) {{ return n.target.join(' '); }}).join(', ') + ']'; }}); }});"
        );
        let found = self.execute(&script, Vec::new()).await;
        found
            .as_array()
            .map(|list| list.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }

    /// Ends the session and the driver.
    pub async fn quit(mut self) {
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = self.http.delete(&url).send().await;
        let _ = self.driver.kill().await;
    }
}

impl Drop for Browser {
    /// A test that fails mid-session never reaches [`Browser::quit`]: killing only chromedriver
    /// (`kill_on_drop`) would leave Chromium and its renderers running after the test, so the
    /// whole process group goes.
    fn drop(&mut self) {
        if let Some(pid) = self.driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}
