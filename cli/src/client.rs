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
}
