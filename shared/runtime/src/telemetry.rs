//! Logs and traces, set up once per process.
//!
//! - Logs: JSON lines when `SANDPIPER_LOG_FORMAT=json` (containers), human-readable otherwise; the
//!   level from `RUST_LOG` (default `info`). Lines inside a handler, HTTP request, timer or
//!   delivery carry the span's `trace_id`.
//! - Traces: spans always get OpenTelemetry ids (so trace ids reach logs and NATS headers), and are
//!   exported over OTLP/HTTP only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; `OTEL_SERVICE_NAME` names the service.
//!   `OTEL_SDK_DISABLED=true` turns tracing off altogether. Export runs on its own thread with a
//!   bounded queue: a slow or absent collector drops spans, it never blocks a service.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How long one export may take before it is abandoned.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(3);

/// Where spans go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Export {
    /// No spans at all (`OTEL_SDK_DISABLED=true`).
    Disabled,
    /// Ids for logs and propagation, nothing exported.
    IdsOnly,
    /// OTLP/HTTP to this endpoint (the full URL of the traces path, e.g. `…/v1/traces`).
    Otlp(String),
    /// OTLP/HTTP where the standard environment variables say.
    OtlpFromEnv,
}

impl Export {
    /// What the standard OpenTelemetry variables ask for.
    pub fn from_env() -> Export {
        let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
        if std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.trim().eq_ignore_ascii_case("true")) {
            Export::Disabled
        } else if set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            Export::OtlpFromEnv
        } else {
            Export::IdsOnly
        }
    }
}

/// Keeps the span pipeline alive; flushes what is queued when dropped.
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends every finished span now (tests, before exit).
    pub fn flush(&self) {
        if let Some(provider) = &self.provider
            && let Err(err) = provider.force_flush()
        {
            tracing::debug!(error = %err, "flushing spans failed");
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown_with_timeout(EXPORT_TIMEOUT);
        }
    }
}

/// Installs the global subscriber for a service (`default_service` unless `OTEL_SERVICE_NAME`
/// says otherwise). Calling it again (several services in one process) installs nothing.
pub fn init(default_service: &str) -> Telemetry {
    let json = std::env::var("SANDPIPER_LOG_FORMAT").is_ok_and(|v| v == "json");
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,async_nats=warn"));
    install(default_service, Export::from_env(), filter, json, false)
}

/// For tests: logs are silent unless `TEST_LOG` is set, then written through the test harness's
/// capture; spans go where `export` says.
pub fn init_for_tests_with(export: Export) -> Telemetry {
    let logs = std::env::var_os("TEST_LOG").is_some();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(if logs {
            "debug,async_nats=info"
        } else {
            "info,async_nats=warn"
        })
    });
    install("sandpiper-tests", export, filter, false, !logs)
}

/// For tests: silent unless `TEST_LOG` is set; no spans exported.
pub fn init_for_tests() {
    if std::env::var_os("TEST_LOG").is_some() {
        std::mem::forget(init_for_tests_with(Export::IdsOnly));
    }
}

fn install(default_service: &str, export: Export, filter: EnvFilter, json: bool, silent: bool) -> Telemetry {
    crate::http::ensure_crypto_provider();
    let service_name = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default_service.to_owned());
    let (provider, export_error) = match build_provider(&service_name, &export) {
        Ok(provider) => (provider, None),
        // A bad endpoint must not stop the service: it runs, logs why, and exports nothing.
        Err(err) => (Some(SdkTracerProvider::builder().build()), Some(err)),
    };
    let otel = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("sandpiper"))
            .with_tracked_inactivity(false)
    });
    let logs = if silent {
        None
    } else if json {
        Some(
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .with_target(false)
                .boxed(),
        )
    } else if std::env::var_os("TEST_LOG").is_some() {
        Some(
            tracing_subscriber::fmt::layer()
                .with_test_writer()
                .with_target(false)
                .boxed(),
        )
    } else {
        Some(tracing_subscriber::fmt::layer().with_target(false).boxed())
    };
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(otel)
        .try_init()
        .is_ok();
    if let Some(err) = export_error {
        tracing::error!(error = %err, "cannot export traces; spans are only used for log correlation");
    }
    if installed {
        if matches!(export, Export::Otlp(_) | Export::OtlpFromEnv) {
            tracing::info!(service = %service_name, "exporting traces over OTLP/HTTP");
        }
        Telemetry { provider }
    } else {
        // Another service of this process installed the subscriber: this provider is unused.
        Telemetry::default()
    }
}

fn build_provider(service_name: &str, export: &Export) -> Result<Option<SdkTracerProvider>, String> {
    let resource = Resource::builder().with_service_name(service_name.to_owned()).build();
    let builder = SdkTracerProvider::builder().with_resource(resource);
    let exporter = match export {
        Export::Disabled => return Ok(None),
        Export::IdsOnly => return Ok(Some(builder.build())),
        Export::Otlp(endpoint) => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(endpoint.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .build(),
        Export::OtlpFromEnv => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_timeout(EXPORT_TIMEOUT)
            .build(),
    }
    .map_err(|e| e.to_string())?;
    Ok(Some(builder.with_batch_exporter(exporter).build()))
}
