//! A small client for the Sandpiper API, used by `submit` and `status`. Errors carry the
//! problem+json detail and every failing field, so the command can print them as they are.

use std::time::Duration;

use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the Sandpiper API at {url}: {reason} (is `sandpiper up` running?)")]
    Unreachable { url: String, reason: String },
    #[error("{status}: {detail}{fields}")]
    Problem {
        status: u16,
        detail: String,
        fields: String,
    },
    #[error("the API answered something that is not JSON: {0}")]
    Body(String),
}

pub struct ApiClient {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl ApiClient {
    pub fn new(base: &str, token: &str) -> Result<ApiClient, ClientError> {
        sandpiper_runtime::http::ensure_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| ClientError::Unreachable {
                url: base.into(),
                reason: e.to_string(),
            })?;
        Ok(ApiClient {
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            http,
        })
    }

    pub async fn get(&self, path: &str) -> Result<Value, ClientError> {
        self.send(self.http.get(self.url(path))).await
    }

    pub async fn post_json(&self, path: &str, body: Vec<u8>) -> Result<Value, ClientError> {
        self.send(
            self.http
                .post(self.url(path))
                .header("content-type", "application/json")
                .body(body),
        )
        .await
    }

    /// Creates a draft (`POST /v1/applications`) under an `Idempotency-Key` of its own, and
    /// retries it with the same key when the outcome is unknown (the API unreachable, or a 503):
    /// the API answers a retried key with the first answer, so a draft is never filed twice.
    pub async fn create_application(&self, body: Vec<u8>) -> Result<Value, ClientError> {
        let key = sandpiper_contracts::ids::EventId::generate().to_string();
        let mut attempt: u64 = 0;
        loop {
            let sent = self
                .send(
                    self.http
                        .post(self.url("/v1/applications"))
                        .header("content-type", "application/json")
                        .header("idempotency-key", &key)
                        .body(body.clone()),
                )
                .await;
            match sent {
                Err(ClientError::Unreachable { .. } | ClientError::Problem { status: 503, .. }) if attempt < 4 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(250 * attempt)).await;
                }
                other => return other,
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, ClientError> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| ClientError::Unreachable {
                url: self.base.clone(),
                reason: e.to_string(),
            })?;
        let status = response.status();
        let text = response.text().await.map_err(|e| ClientError::Body(e.to_string()))?;
        let body: Value =
            serde_json::from_str(&text).map_err(|_| ClientError::Body(text.chars().take(200).collect()))?;
        if status.is_success() {
            return Ok(body);
        }
        let detail = body["detail"].as_str().unwrap_or("no detail").to_owned();
        let fields: String = body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| {
                        let rule = e["rule"].as_str().map(|r| format!(" [{r}]")).unwrap_or_default();
                        format!(
                            "\n  - {}: {}{rule}",
                            e["field"].as_str().unwrap_or(""),
                            e["message"].as_str().unwrap_or("")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Err(ClientError::Problem {
            status: status.as_u16(),
            detail,
            fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_builds_in_a_fresh_process() {
        // reqwest's TLS is rustls without a built-in provider (the workspace shares one feature
        // set); building a client must not depend on someone else having installed one.
        assert!(ApiClient::new("http://127.0.0.1:1", "token").is_ok());
    }

    #[tokio::test]
    async fn a_create_whose_outcome_is_unknown_is_retried_under_the_same_idempotency_key() {
        use std::sync::{Arc, Mutex};

        use axum::http::{HeaderMap, StatusCode};

        // A stand-in API: the first create answers 503 (its outcome unknown), the second 201.
        let keys: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = keys.clone();
        let api = axum::Router::new().route(
            "/v1/applications",
            axum::routing::post(move |headers: HeaderMap| {
                let seen = seen.clone();
                async move {
                    let key = headers
                        .get("idempotency-key")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let mut keys = seen.lock().unwrap();
                    keys.push(key);
                    if keys.len() == 1 {
                        (StatusCode::SERVICE_UNAVAILABLE, r#"{"status":503,"detail":"unknown"}"#)
                    } else {
                        (StatusCode::CREATED, r#"{"id":"01J0000000000000000000000A"}"#)
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, api).await });

        let client = ApiClient::new(&base, "token").unwrap();
        let created = client.create_application(b"{}".to_vec()).await.unwrap();
        assert_eq!(created["id"], "01J0000000000000000000000A");
        let keys = keys.lock().unwrap().clone();
        assert_eq!(keys.len(), 2, "retried once");
        assert!(!keys[0].is_empty(), "the CLI always sends an Idempotency-Key");
        assert_eq!(
            keys[0], keys[1],
            "and retries under the same one, so the draft is filed once"
        );
    }
}
