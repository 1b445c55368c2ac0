//! A real OTLP/HTTP trace receiver for tests: accepts `POST /v1/traces` (protobuf) like a
//! collector would and keeps every span it was sent; and the process's one tracing subscriber,
//! exporting to such a receiver ([`process_traces`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;
use sandpiper_runtime::telemetry::{self, Export, Telemetry};

/// The process's global tracing subscriber and the receiver it exports every span to.
pub struct ProcessTraces {
    pub receiver: OtlpReceiver,
    /// Keeps the exporter alive for the whole process; [`Telemetry::flush`] sends what is queued.
    pub telemetry: Telemetry,
}

/// The tracing subscriber is global to a process and the integration suite is one process (one
/// test binary), so every test that needs one shares this: installed once, by whichever asks
/// first ([`crate::TestApp`] when `TEST_LOG` is set, or a test of the traces), logging as
/// `TEST_LOG` says and exporting every span of the process to one receiver. That receiver runs on
/// a thread and runtime of its own, so it outlives the test that started it. The spans of tests
/// running alongside arrive too: a test picks its own trace out by what it did (its application).
pub fn process_traces() -> &'static ProcessTraces {
    static TRACES: OnceLock<ProcessTraces> = OnceLock::new();
    TRACES.get_or_init(|| {
        let (started, traces) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("otlp-receiver".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the OTLP receiver");
                let receiver = runtime.block_on(OtlpReceiver::start());
                // Outside any runtime: the exporter's blocking HTTP client is made here.
                let telemetry = telemetry::init_for_tests_with(Export::Otlp(receiver.traces_endpoint()));
                let _ = started.send(ProcessTraces { receiver, telemetry });
                runtime.block_on(std::future::pending::<()>());
            })
            .expect("the OTLP receiver's thread starts");
        traces.recv().expect("the OTLP receiver starts")
    })
}

/// One received span, flattened for assertions.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    pub name: String,
    /// The exporting process's `service.name`.
    pub resource_service: String,
    /// String, integer and boolean attributes, as text.
    pub attributes: HashMap<String, String>,
}

impl ReceivedSpan {
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

pub struct OtlpReceiver {
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    addr: SocketAddr,
}

impl OtlpReceiver {
    pub async fn start() -> OtlpReceiver {
        let spans = Arc::new(Mutex::new(Vec::new()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = Router::new()
            .route("/v1/traces", post(receive))
            .with_state(spans.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        OtlpReceiver { spans, addr }
    }

    /// The traces endpoint, as `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` would name it.
    pub fn traces_endpoint(&self) -> String {
        format!("http://{}/v1/traces", self.addr)
    }

    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().expect("lock").clone()
    }

    /// Waits until `done` holds for the spans received (up to 30 s).
    pub async fn wait_until(&self, what: &str, done: impl Fn(&[ReceivedSpan]) -> bool) -> Vec<ReceivedSpan> {
        crate::poll_until(what, Duration::from_millis(50), || self.spans(), done).await
    }
}

async fn receive(State(spans): State<Arc<Mutex<Vec<ReceivedSpan>>>>, body: Bytes) -> StatusCode {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return StatusCode::BAD_REQUEST;
    };
    let mut received = Vec::new();
    for resource_spans in request.resource_spans {
        let resource_service = resource_spans
            .resource
            .as_ref()
            .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
            .and_then(|a| a.value.as_ref())
            .and_then(|v| text(v.value.as_ref()))
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                received.push(ReceivedSpan {
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    name: span.name,
                    resource_service: resource_service.clone(),
                    attributes: span
                        .attributes
                        .into_iter()
                        .filter_map(|a| Some((a.key, text(a.value.as_ref()?.value.as_ref())?)))
                        .collect(),
                });
            }
        }
    }
    spans.lock().expect("lock").extend(received);
    StatusCode::OK
}

fn text(value: Option<&AnyValue>) -> Option<String> {
    match value? {
        AnyValue::StringValue(s) => Some(s.clone()),
        AnyValue::IntValue(i) => Some(i.to_string()),
        AnyValue::BoolValue(b) => Some(b.to_string()),
        AnyValue::DoubleValue(d) => Some(d.to_string()),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
