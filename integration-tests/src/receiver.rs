//! A real HTTP receiver for webhook tests: an axum server on a random loopback port that records
//! every request and answers as the test scripts it (fail N times, throttle, hang, hold).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// How the receiver answers the next request.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    Status(u16),
    /// 429 with `Retry-After: seconds`.
    Throttle(u64),
    /// Never answers.
    Hang,
    /// Answers 200 once [`Receiver::release`] is called (or never, if the caller hangs up first):
    /// a delivery held in flight.
    Hold,
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    /// Answers for the next requests, in order; then 200.
    script: Vec<Answer>,
}

#[derive(Clone)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    released: tokio::sync::watch::Receiver<bool>,
}

#[derive(Clone)]
pub struct Receiver {
    inner: Arc<Mutex<Inner>>,
    release: Arc<tokio::sync::watch::Sender<bool>>,
    pub addr: SocketAddr,
}

impl Receiver {
    pub async fn start(script: Vec<Answer>) -> Receiver {
        let inner = Arc::new(Mutex::new(Inner {
            received: Vec::new(),
            script,
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (release, released) = tokio::sync::watch::channel(false);
        let app = Router::new().route("/hook", post(receive)).with_state(Shared {
            inner: inner.clone(),
            released,
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            inner,
            release: Arc::new(release),
            addr,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().expect("lock").received.clone()
    }

    /// Replaces what the next requests get.
    pub fn script(&self, answers: Vec<Answer>) {
        self.inner.lock().expect("lock").script = answers;
    }

    /// Lets every held request (and any held later) answer 200.
    pub fn release(&self) {
        self.release.send_replace(true);
    }

    /// Waits until `done` holds for what was received (up to 30 s).
    pub async fn wait_until(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        crate::poll_until(what, Duration::from_millis(20), || self.received(), done).await
    }
}

async fn receive(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let answer = {
        let mut inner = shared.inner.lock().expect("lock");
        inner.received.push(Received {
            headers,
            body,
            at: Instant::now(),
        });
        if inner.script.is_empty() {
            Answer::Status(200)
        } else {
            inner.script.remove(0)
        }
    };
    match answer {
        Answer::Status(code) => StatusCode::from_u16(code).unwrap_or(StatusCode::OK).into_response(),
        Answer::Throttle(seconds) => {
            (StatusCode::TOO_MANY_REQUESTS, [("retry-after", seconds.to_string())]).into_response()
        }
        Answer::Hang => {
            std::future::pending::<()>().await;
            StatusCode::OK.into_response()
        }
        Answer::Hold => {
            let mut released = shared.released.clone();
            let _ = released.wait_for(|r| *r).await;
            StatusCode::OK.into_response()
        }
    }
}
