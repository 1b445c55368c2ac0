//! Requests as Slack sends them to the notifier's Slack app, and reading its Block Kit answers.

use crate::{Reply, TestApp};

/// Posts a form to the notifier's `path` as Slack does: form-encoded, signed at `timestamp` with
/// `secret`, with Slack's retry headers when `retry` is given.
pub async fn signed(
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
    secret: &str,
    timestamp: i64,
    retry: Option<&str>,
) -> Reply {
    let body = serde_urlencoded::to_string(form).expect("a form");
    let signature = sandpiper_notifier::signing::sign(secret, timestamp, body.as_bytes());
    let mut request = app
        .http
        .post(app.notifier_url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", timestamp.to_string())
        .header("x-slack-signature", signature)
        .body(body);
    if let Some(n) = retry {
        request = request
            .header("x-slack-retry-num", n)
            .header("x-slack-retry-reason", "http_timeout");
    }
    app.send(request).await
}

/// The text of every block of a Block Kit message, a line each.
pub fn sections(message: &serde_json::Value) -> String {
    message["blocks"]
        .as_array()
        .map(|blocks| {
            blocks
                .iter()
                .map(|b| b["text"]["text"].as_str().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}
