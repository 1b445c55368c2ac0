//! W3C trace context across NATS and HTTP: the one injector and extractor every publisher and
//! consumer uses, so the spans of one application share a trace id from the HTTP request to the
//! Slack delivery.
//!
//! A hop is: the sender injects `traceparent` (and `tracestate`) of its current span into the
//! message headers; the receiver opens its span and [`adopt`]s the extracted context as parent,
//! which also records the trace id on the span so every log line inside carries it.

use async_nats::HeaderMap;
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The header that carries the context (W3C Trace Context).
pub const TRACEPARENT: &str = "traceparent";

struct NatsInjector<'a>(&'a mut HeaderMap);

impl Injector for NatsInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key, value.as_str());
    }
}

struct NatsExtractor<'a>(&'a HeaderMap);

impl Extractor for NatsExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|v| v.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name.as_ref()).collect()
    }
}

struct HttpExtractor<'a>(&'a axum::http::HeaderMap);

impl Extractor for HttpExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Writes the current span's context into NATS headers (nothing when tracing is off).
pub fn inject(headers: &mut HeaderMap) {
    inject_context(&Span::current().context(), headers);
}

/// Writes a given context into NATS headers.
pub fn inject_context(cx: &Context, headers: &mut HeaderMap) {
    if cx.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(cx, &mut NatsInjector(headers));
    }
}

/// The context a NATS message carries (an empty context when it carries none).
pub fn extract(headers: Option<&HeaderMap>) -> Context {
    match headers {
        Some(headers) => TraceContextPropagator::new().extract(&NatsExtractor(headers)),
        None => Context::new(),
    }
}

/// The context an HTTP request carries (callers may continue their own traces).
pub fn extract_http(headers: &axum::http::HeaderMap) -> Context {
    TraceContextPropagator::new().extract(&HttpExtractor(headers))
}

/// The current span's context as a `traceparent` value, for data that outlives the span (a
/// timer records who scheduled it).
pub fn current_traceparent() -> Option<String> {
    let mut headers = HeaderMap::new();
    inject(&mut headers);
    headers.get(TRACEPARENT).map(|v| v.as_str().to_owned())
}

/// The context a stored `traceparent` value names.
pub fn from_traceparent(traceparent: &str) -> Context {
    let mut headers = HeaderMap::new();
    headers.insert(TRACEPARENT, traceparent);
    extract(Some(&headers))
}

/// Makes `parent` (when it names a span) the parent of a freshly opened `span`, then records the
/// span's trace id in its `trace_id` field so log lines inside it carry it. Call it before the
/// span is entered.
pub fn adopt(span: &Span, parent: Context) {
    if parent.span().span_context().is_valid() {
        // Fails only when the span was already started or tracing is off: it then stays a root.
        let _ = span.set_parent(parent);
    }
    let trace_id = span.context().span().span_context().trace_id();
    if trace_id != opentelemetry::trace::TraceId::INVALID {
        span.record("trace_id", tracing::field::display(trace_id));
    }
}

/// Middleware: one server span per API request, continuing the caller's trace when it sends a
/// `traceparent`. Probes and scrapes are not traced (they would drown the traces that matter).
pub async fn trace_request(
    service: &'static str,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use tracing::Instrument;
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    if matches!(route.as_str(), "/healthz" | "/readyz" | "/metrics") {
        return next.run(request).await;
    }
    let span = tracing::info_span!(
        "request",
        otel.name = %format_args!("{} {route}", request.method()),
        otel.kind = "server",
        service,
        http.request.method = %request.method(),
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
        trace_id = tracing::field::Empty,
    );
    adopt(&span, extract_http(request.headers()));
    let response = next.run(request).instrument(span.clone()).await;
    span.record("http.response.status_code", response.status().as_u16());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_survives_nats_headers() {
        let value = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let cx = from_traceparent(value);
        assert!(cx.span().span_context().is_valid());
        let mut headers = HeaderMap::new();
        inject_context(&cx, &mut headers);
        assert_eq!(headers.get(TRACEPARENT).map(|v| v.as_str()), Some(value));
    }

    #[test]
    fn no_context_injects_nothing() {
        let mut headers = HeaderMap::new();
        inject_context(&Context::new(), &mut headers);
        assert!(headers.is_empty());
        assert!(!extract(None).span().span_context().is_valid());
        assert!(!from_traceparent("garbage").span().span_context().is_valid());
    }
}
