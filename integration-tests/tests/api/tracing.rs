//! One application is one trace: the spans of the submit request, the classification, the review
//! (its timer firing days later on the simulated clock), the credits and the webhook deliveries
//! reach an OTLP receiver with one trace id and parent links that cross every NATS hop.
//!
//! The global tracing subscriber is per process and the suite is one process: the test exports
//! through the one the suite shares ([`otlp::process_traces`]), whose receiver also gets the spans
//! of the tests running alongside, and picks its trace out by its application's `submitted`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};

use sandpiper_integration_tests::otlp::{self, ReceivedSpan};
use sandpiper_integration_tests::receiver::Receiver;
use sandpiper_integration_tests::{ACME, TestApp, example};

const SERVICES: [&str; 5] = ["intake", "classifier", "reviewer", "scheduler", "notifier"];

/// The request that submitted application `id`: the submit route's span in the trace its
/// `submitted` was published in (the receiver holds the spans of every test of the process).
fn submit_request<'s>(spans: &'s [ReceivedSpan], id: &str) -> Option<&'s ReceivedSpan> {
    let submit_route = "/v1/applications/{id}/submit";
    let submitted = spans
        .iter()
        .find(|s| s.name == "publish submitted" && s.attr("application_id") == Some(id))?;
    spans
        .iter()
        .find(|s| s.trace_id == submitted.trace_id && s.attr("http.route") == Some(submit_route))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_application_is_one_trace_across_all_five_services() {
    let otlp::ProcessTraces {
        receiver: collector,
        telemetry,
    } = otlp::process_traces();
    let app = TestApp::simulated().await;
    let webhook = Receiver::start(vec![]).await;
    app.subscribe(ACME, &webhook.url(), &["approved"], "cloudevents").await;

    let id = app.submit(ACME, &example("bedrock-agents-support")).await;
    app.wait_for_state(ACME, &id, "in_review").await;
    app.advance_days(12).await;
    app.wait_for_state(ACME, &id, "active").await;
    webhook.wait_until("the approval's delivery", |r| !r.is_empty()).await;
    telemetry.flush();

    let spans = collector
        .wait_until("the whole trace", |spans| {
            let Some(root) = submit_request(spans, &id) else {
                return false;
            };
            let services: HashSet<&str> = spans
                .iter()
                .filter(|s| s.trace_id == root.trace_id)
                .filter_map(|s| s.attr("service"))
                .collect();
            SERVICES.iter().all(|s| services.contains(s))
                && spans
                    .iter()
                    .any(|s| s.trace_id == root.trace_id && s.name.starts_with("notifier deliver"))
        })
        .await;

    let root = submit_request(&spans, &id).unwrap();
    assert_eq!(root.parent_span_id, "", "the submit request starts the trace");
    assert_eq!(root.attr("http.response.status_code"), Some("202"), "{root:?}");
    let trace: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.trace_id == root.trace_id).collect();
    let by_id: HashMap<&str, &ReceivedSpan> = trace.iter().map(|s| (s.span_id.as_str(), *s)).collect();
    let parent_of = |span: &ReceivedSpan| -> &ReceivedSpan {
        by_id
            .get(span.parent_span_id.as_str())
            .unwrap_or_else(|| panic!("the parent of {} is not in the trace", span.name))
    };
    let find = |name: &str| -> &ReceivedSpan {
        trace.iter().find(|s| s.name == name).unwrap_or_else(|| {
            panic!(
                "no span {name:?} in {:#?}",
                trace.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        })
    };

    // intake: the request publishes `submitted`.
    let submitted = find("publish submitted");
    assert_eq!(parent_of(submitted).span_id, root.span_id);
    // NATS hop → classifier, which publishes `classified`.
    let classify = find("classifier handle submitted");
    assert_eq!(parent_of(classify).span_id, submitted.span_id);
    let classified = find("publish classified");
    assert_eq!(parent_of(classified).span_id, classify.span_id);
    // NATS hop → reviewer, which schedules the review timer; the timer fires after the advance
    // and continues the trace from the span that scheduled it.
    let review = find("reviewer handle classified");
    assert_eq!(parent_of(review).span_id, classified.span_id);
    let timer = find("reviewer timer review");
    assert_eq!(parent_of(timer).span_id, review.span_id);
    let approved = find("publish approved");
    assert_eq!(parent_of(approved).span_id, timer.span_id);
    // NATS hop → scheduler, which applies the credits.
    let credit = find("scheduler handle approved");
    assert_eq!(parent_of(credit).span_id, approved.span_id);
    assert_eq!(parent_of(find("publish credits_applied")).span_id, credit.span_id);
    // NATS hop → notifier fan-out → the webhook delivery.
    let fanout = trace
        .iter()
        .find(|s| s.name == "notifier handle approved")
        .expect("the notifier handles `approved`");
    assert_eq!(parent_of(fanout).span_id, approved.span_id);
    let deliver = find("notifier deliver approved");
    assert_eq!(parent_of(deliver).span_id, fanout.span_id);

    // Every span of the trace is linked to the root through its parents.
    for span in &trace {
        let mut cursor = *span;
        let mut hops = 0;
        while !cursor.parent_span_id.is_empty() {
            cursor = parent_of(cursor);
            hops += 1;
            assert!(hops < 64, "a parent cycle at {}", span.name);
        }
        assert_eq!(
            cursor.span_id, root.span_id,
            "{} is not under the submit request",
            span.name
        );
    }

    // The receiver saw the same trace: the delivery carried its traceparent.
    let delivered = &webhook.received()[0];
    let traceparent = delivered.header("traceparent");
    assert!(traceparent.contains(&root.trace_id), "{traceparent}");
    assert_eq!(
        trace
            .iter()
            .map(|s| s.resource_service.as_str())
            .collect::<HashSet<_>>(),
        HashSet::from(["sandpiper-tests"])
    );
}
