//! Fuzzing (#13): the body parser, the merge patch and the view fold never panic, whatever they
//! are given, and each says what it could not use instead.
//!
//! The cases per property come from `SANDPIPER_FUZZ_CASES` (1,000 unless set, what CI runs); the
//! bench's figure is 100,000 a property, in a release build:
//!
//! ```sh
//! SANDPIPER_FUZZ_CASES=100000 cargo test --release -p sandpiper-contracts --test fuzz -- --nocapture
//! ```

// Test code: a panic is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use proptest::sample::select;
use sandpiper_contracts::catalog::Catalog;
use sandpiper_contracts::events::{Drafted, Envelope, EventType};
use sandpiper_contracts::ids::{ApplicationId, EventId, PartnerId};
use sandpiper_contracts::model::{ApplicationDraft, JsonError, merge_patch, parse_json};
use sandpiper_contracts::names::ServiceName;
use sandpiper_contracts::record::{ApplicationRecord, Folded};
use serde_json::{Map, Value, json};

fn cases() -> u32 {
    let cases = std::env::var("SANDPIPER_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    eprintln!("fuzz: {cases} cases a property");
    cases
}

/// The draft's members and its nested objects', so generated bodies reach past "unknown field".
const KEYS: &[&str] = &[
    "startup",
    "programme",
    "service",
    "workload",
    "use_case",
    "target_metrics",
    "metrics",
    "feedback_checkpoints_days",
    "evaluation_window_days",
    "budget",
    "production_monthly_usd",
    "stack",
    "name",
    "aws_account_id",
    "industry",
    "stage",
    "team_size",
    "monthly_recurring_revenue_usd",
    "target",
    "item",
    "basis",
    "category",
    "amount_usd",
    "status",
];

/// Text as partners type it and as attackers do: words the rules know, control characters,
/// any Unicode.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec![
            "",
            " ",
            "bedrock-agents",
            "innovation_sandbox",
            "emerging_service",
            "approved",
            "123456789012",
            "Evil\u{0}Corp",
            "\u{85}",
            "line\nbreak",
            "\t",
            "30%",
            "2026-03-02",
            "9999999999999999999999",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
    ]
}

/// Any JSON, leaning on the draft's own member names.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        select(vec![0.0, 45.0, -1.0, 1e300, 30.5]).prop_map(|f| json!(f)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    prop_oneof![select(KEYS.to_vec()).prop_map(str::to_owned), text()],
                    inner
                ),
                0..6
            )
            .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

fn at() -> DateTime<Utc> {
    "2026-03-02T09:00:00Z".parse().unwrap()
}

/// The application every fold starts from: a real draft.
fn drafted(application: ApplicationId, partner: &PartnerId) -> Envelope {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/examples/bedrock-agents-support.json"
    );
    let draft: ApplicationDraft = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    Envelope::new(
        EventId::generate(),
        ServiceName::Intake,
        partner.clone(),
        application,
        at(),
        &Drafted {
            draft,
            originated_from: None,
        },
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Bytes off the wire: JSON or not, the parser answers, never panics.
    #[test]
    fn the_body_parser_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_json::<ApplicationDraft>(&bytes);
    }

    /// JSON of any shape: a draft (then its bounds and validation run too) or a shape error
    /// naming where it stopped, never a syntax error for valid JSON.
    #[test]
    fn any_json_is_a_draft_or_a_shape_error(body in json_value()) {
        let bytes = serde_json::to_vec(&body).unwrap();
        match parse_json::<ApplicationDraft>(&bytes) {
            Ok(draft) => {
                let _ = draft.check_bounds();
                let catalog = Catalog::builtin().unwrap();
                let _ = draft.validate(&catalog, at());
            }
            Err(JsonError::Shape(_)) => {}
            Err(JsonError::Syntax(err)) => prop_assert!(false, "valid JSON read as a syntax error: {err}"),
        }
    }

    /// A merge patch of anything onto anything: no panic, a patch that is not an object replaces
    /// the target, and every member the patch sets to null is gone.
    #[test]
    fn a_merge_patch_applies_whatever_it_is_given(target in json_value(), patch in json_value()) {
        let mut merged = target.clone();
        merge_patch(&mut merged, &patch);
        match &patch {
            Value::Object(members) => {
                let merged = merged.as_object().expect("an object patch leaves an object");
                for (key, value) in members {
                    if value.is_null() {
                        prop_assert!(!merged.contains_key(key), "{key} was patched to null");
                    }
                }
            }
            other => prop_assert_eq!(&merged, other),
        }
    }

    /// A draft's record fed any events (any type, any payload, any stream position, other
    /// applications' included): every one is applied, refused, a redelivery or out of order,
    /// and the record never goes backwards.
    #[test]
    fn folding_any_events_never_panics_or_goes_backwards(
        events in proptest::collection::vec(
            (select(EventType::ALL.to_vec()), json_value(), 2u64..60, any::<bool>()),
            0..24,
        ),
    ) {
        let partner = PartnerId::parse("acme").unwrap();
        let application = ApplicationId::generate();
        let mut record = ApplicationRecord::create(&drafted(application, &partner), 1).unwrap();
        for (kind, data, sequence, own) in events {
            let envelope = json!({
                "specversion": "1.0",
                "id": EventId::generate().to_string(),
                "source": "/sandpiper/fuzz",
                "type": kind.cloudevents_type(),
                "subject": if own { application } else { ApplicationId::generate() }.to_string(),
                "time": "2026-03-03T09:00:00Z",
                "datacontenttype": "application/json",
                "partnerid": "acme",
                "data": data,
            });
            let envelope = Envelope::from_json(&serde_json::to_vec(&envelope).unwrap()).unwrap();
            let before = record.last_sequence();
            let version = record.view.version;
            match record.fold(&envelope, sequence) {
                Folded::Applied => prop_assert!(record.view.version >= version),
                Folded::Already | Folded::OutOfOrder => prop_assert_eq!(record.last_sequence(), before),
                Folded::Refused(_) => prop_assert_eq!(record.view.version, version),
            }
            prop_assert!(record.last_sequence() >= before, "the record went back");
            prop_assert_eq!(record.view.id, application);
        }
    }
}
