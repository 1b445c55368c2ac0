//! The OpenAPI 3.1 document, generated from the route annotations and schema derives: the routes
//! registered through [`router`] are exactly the paths documented.

use axum::Router;
use sandpiper_contracts::model::{TextKind, limits, text_pattern};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{AdditionalProperties, ArrayItems, Schema};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::routes::{ace, agenda, applications, calendar, dead_letters, engagement, preflight, system, withdrawal};
use crate::state::AppState;
use sandpiper_runtime::http::problem::Problem;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sandpiper API",
        version = "1",
        description = "Draft, submit and follow AWS Innovation Sandbox credit applications. Errors are RFC 9457 problem+json."
    ),
    modifiers(&BearerAuth),
    paths(healthz, readyz),
    // `Order` is a query parameter's type: the params derive refers to it without adding it.
    components(schemas(Problem, sandpiper_contracts::answers::Order)),
    tags(
        (name = "applications", description = "Applications and their history"),
        (name = "engagement", description = "Credits, office hours and the decision after approval"),
        (name = "calendars", description = "Calendar feeds a calendar app subscribes to by URL (the feed itself needs no token)"),
        (name = "system", description = "The catalog, the clock and the dead letters of refused events"),
        (name = "health", description = "Liveness and readiness; no token needed"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

// The health routes are `sandpiper_runtime::health`'s, shared by every service; these
// declarations only document them here.

/// Liveness: the process answers.
#[utoipa::path(
    get, path = "/healthz", tag = "health",
    responses((status = 200, description = "Alive", content_type = "text/plain", body = String, example = "ok")),
)]
#[allow(dead_code)] // documents a route served by sandpiper_runtime::health
fn healthz() {}

/// Readiness: connected to NATS, the streams present, the views caught up with the stream.
#[utoipa::path(
    get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Ready", content_type = "text/plain", body = String, example = "ready"),
        (status = 503, description = "Not ready, and why", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[allow(dead_code)] // documents a route served by sandpiper_runtime::health
fn readyz() {}

/// The documented API routes, still waiting for their state.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(applications::create, applications::list))
        .routes(routes!(applications::get_one, applications::patch))
        .routes(routes!(applications::submit))
        .routes(routes!(withdrawal::recall))
        .routes(routes!(withdrawal::cancel))
        .routes(routes!(applications::events))
        .routes(routes!(ace::export))
        .routes(routes!(ace::forecast_report))
        .routes(routes!(preflight::preflight))
        .routes(routes!(engagement::consumption))
        .routes(routes!(engagement::concern))
        .routes(routes!(engagement::feedback))
        .routes(routes!(calendar::office_hours))
        .routes(routes!(agenda::agenda))
        .routes(routes!(calendar::create, calendar::list))
        .routes(routes!(calendar::revoke))
        .routes(routes!(calendar::rotate))
        .routes(routes!(calendar::feed))
        .routes(routes!(engagement::decision))
        .routes(routes!(engagement::credit_position))
        .routes(routes!(system::catalog, system::publish_catalog))
        .routes(routes!(system::catalog_versions))
        .routes(routes!(system::clock))
        .routes(routes!(system::advance_clock))
        .routes(routes!(dead_letters::list))
        .routes(routes!(dead_letters::redrive))
}

/// The documented API routes and their OpenAPI document.
pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (router, mut document) = routes().split_for_parts();
    finish(&mut document);
    (router.with_state(state), document)
}

/// The OpenAPI document alone (no connection needed), e.g. to check it in tests.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, mut document) = routes().split_for_parts();
    finish(&mut document);
    document
}

/// What the route annotations cannot say alone; runs once every route's schemas are in (a
/// `Modify` on `ApiDoc` would run before the routes are added).
fn finish(document: &mut utoipa::openapi::OpenApi) {
    for missing in state_bounds(document) {
        // A renamed schema or field; `every_text_bound_finds_its_property` fails on it first.
        tracing::warn!(schema = missing, "a text or list bound names no schema property");
    }
    close_one_ofs(document);
    open_flattened_schemas(document);
    for path in document.paths.paths.values_mut() {
        for operation in [
            &mut path.get,
            &mut path.put,
            &mut path.post,
            &mut path.delete,
            &mut path.patch,
        ]
        .into_iter()
        .flatten()
        {
            add_common_responses(operation);
            headers_are_never_null(operation);
        }
    }
}

/// An optional header is absent or a string; `Option<String>` documents it `["string", "null"]`,
/// and a client (schemathesis) would send the text `null`.
fn headers_are_never_null(operation: &mut Operation) {
    use utoipa::openapi::schema::{SchemaType, Type};
    for parameter in operation.parameters.iter_mut().flatten() {
        let RefOr::T(parameter) = parameter else {
            continue;
        };
        if parameter.parameter_in != ParameterIn::Header {
            continue;
        }
        if let Some(RefOr::T(Schema::Object(object))) = parameter.schema.as_mut()
            && let SchemaType::Array(types) = &object.schema_type
        {
            let kept: Vec<Type> = types.iter().filter(|t| **t != Type::Null).cloned().collect();
            object.schema_type = match kept.as_slice() {
                [one] => SchemaType::Type(one.clone()),
                _ => SchemaType::Array(kept),
            };
        }
    }
}

/// What the server checks of a text, in [`TEXT_BOUNDS`].
struct TextBound {
    schema: &'static str,
    /// The property; `name[]` for the items of a list of texts.
    property: &'static str,
    max_chars: usize,
    kind: TextKind,
    not_blank: bool,
}

const fn text(schema: &'static str, property: &'static str, max_chars: usize, kind: TextKind) -> TextBound {
    TextBound {
        schema,
        property,
        max_chars,
        kind,
        not_blank: false,
    }
}

/// A partner's note or reason ([`crate::routes::engagement::note_ok`]).
const fn note(schema: &'static str, property: &'static str) -> TextBound {
    TextBound {
        schema,
        property,
        max_chars: crate::routes::engagement::MAX_NOTE_CHARS,
        kind: TextKind::MultiLine,
        not_blank: true,
    }
}

/// The texts of request bodies and what the server checks of each (`ApplicationDraft::bounds`,
/// `note_ok`): their length, control characters and, for notes, blankness. The derives cannot
/// state these; without them a client generating requests from the document (schemathesis)
/// sends text the server must refuse.
const TEXT_BOUNDS: &[TextBound] = {
    use TextKind::{MultiLine, SingleLine};
    use limits::{METRIC_CHARS, SHORT_TEXT_CHARS as SHORT, USE_CASE_CHARS};
    &[
        text("ApplicationDraft", "service", SHORT, SingleLine),
        text("ApplicationDraft", "workload", SHORT, SingleLine),
        text("ApplicationDraft", "use_case", USE_CASE_CHARS, MultiLine),
        text("ApplicationDraft", "metrics[]", METRIC_CHARS, SingleLine),
        text("StartupDraft", "name", SHORT, SingleLine),
        text("StartupDraft", "aws_account_id", SHORT, SingleLine),
        text("StartupDraft", "industry", SHORT, SingleLine),
        text("StartupDraft", "stage", SHORT, SingleLine),
        text("TargetMetric", "name", METRIC_CHARS, SingleLine),
        text("TargetMetric", "target", SHORT, SingleLine),
        text("BudgetLineDraft", "item", METRIC_CHARS, SingleLine),
        text("BudgetLineDraft", "basis", METRIC_CHARS, MultiLine),
        text("StackEntry", "workload", SHORT, SingleLine),
        note("WithdrawalRequest", "reason"),
        note("ConcernReport", "note"),
        note("FeedbackNote", "note"),
        note("ConsumptionReport", "note"),
        note("DecisionRequest", "notes"),
    ]
};

/// The lists of request bodies and how many items the server takes: the draft's lists at most
/// [`limits::LIST_ITEMS`]; a budget line's range estimate is a pair, `[low, high]`.
const LIST_BOUNDS: &[(&str, &str, Option<usize>, usize)] = &[
    ("ApplicationDraft", "target_metrics", None, limits::LIST_ITEMS),
    ("ApplicationDraft", "metrics", None, limits::LIST_ITEMS),
    (
        "ApplicationDraft",
        "feedback_checkpoints_days",
        None,
        limits::LIST_ITEMS,
    ),
    ("ApplicationDraft", "budget", None, limits::LIST_ITEMS),
    ("ApplicationDraft", "stack", None, limits::LIST_ITEMS),
    ("BudgetLineDraft", "monthly_usd_range", Some(2), 2),
];

/// Writes [`TEXT_BOUNDS`] and [`LIST_BOUNDS`] into the component schemas; returns the bounds
/// that found no property to go on.
fn state_bounds(document: &mut utoipa::openapi::OpenApi) -> Vec<String> {
    let Some(components) = document.components.as_mut() else {
        return TEXT_BOUNDS
            .iter()
            .map(|b| format!("{}.{}", b.schema, b.property))
            .collect();
    };
    let mut missing = Vec::new();
    for bound in TEXT_BOUNDS {
        let (name, items) = match bound.property.strip_suffix("[]") {
            Some(list) => (list, true),
            None => (bound.property, false),
        };
        let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(bound.schema) else {
            missing.push(format!("{}.{}", bound.schema, bound.property));
            continue;
        };
        let target = match (object.properties.get_mut(name), items) {
            (Some(RefOr::T(Schema::Object(text))), false) => Some(text),
            (Some(RefOr::T(Schema::Array(list))), true) => match &mut list.items {
                ArrayItems::RefOrSchema(item) => match item.as_mut() {
                    RefOr::T(Schema::Object(text)) => Some(text),
                    _ => None,
                },
                ArrayItems::False => None,
            },
            _ => None,
        };
        match target {
            Some(text) => {
                text.max_length = Some(bound.max_chars);
                text.pattern = Some(text_pattern(bound.kind, bound.not_blank));
                if bound.not_blank {
                    text.min_length = Some(1);
                }
            }
            None => missing.push(format!("{}.{}", bound.schema, bound.property)),
        }
    }
    for &(schema, name, min_items, max_items) in LIST_BOUNDS {
        let list = match components.schemas.get_mut(schema) {
            Some(RefOr::T(Schema::Object(object))) => match object.properties.get_mut(name) {
                Some(RefOr::T(Schema::Array(list))) => Some(list),
                _ => None,
            },
            _ => None,
        };
        match list {
            Some(list) => {
                list.min_items = min_items;
                list.max_items = Some(max_items);
            }
            None => missing.push(format!("{schema}.{name}")),
        }
    }
    missing
}

/// Request bodies that are one of several objects by a tag, from an enum with
/// `deny_unknown_fields`: the server refuses a member the chosen variant does not name, so each
/// variant is documented closed (the derive leaves them open).
fn close_one_ofs(document: &mut utoipa::openapi::OpenApi) {
    const CLOSED: &[&str] = &["NewFeed"];
    let Some(components) = document.components.as_mut() else {
        return;
    };
    for name in CLOSED {
        if let Some(RefOr::T(Schema::OneOf(one_of))) = components.schemas.get_mut(*name) {
            for variant in &mut one_of.items {
                if let RefOr::T(Schema::Object(object)) = variant {
                    object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
                }
            }
        }
    }
}

/// A struct with `deny_unknown_fields` is documented `additionalProperties: false`. Flattened into
/// another (the draft into the application view), that schema sits in an `allOf` where it refuses
/// every field of the outer struct, so no real answer would validate: inline an open copy there.
/// The struct's own schema (e.g. as a request body) stays closed.
fn open_flattened_schemas(document: &mut utoipa::openapi::OpenApi) {
    let Some(components) = document.components.as_mut() else {
        return;
    };
    let closed: std::collections::BTreeMap<String, Schema> = components
        .schemas
        .iter()
        .filter_map(|(name, schema)| match schema {
            RefOr::T(Schema::Object(object))
                if matches!(
                    object.additional_properties.as_deref(),
                    Some(AdditionalProperties::FreeForm(false))
                ) =>
            {
                let mut open = object.clone();
                open.additional_properties = None;
                Some((format!("#/components/schemas/{name}"), Schema::Object(open)))
            }
            _ => None,
        })
        .collect();
    for schema in components.schemas.values_mut() {
        let RefOr::T(Schema::AllOf(all_of)) = schema else {
            continue;
        };
        for item in &mut all_of.items {
            if let RefOr::Ref(reference) = item
                && let Some(Schema::Object(open)) = closed.get(&reference.ref_location)
            {
                let mut open = open.clone();
                if !reference.description.is_empty() {
                    open.description = Some(reference.description.clone());
                }
                *item = RefOr::T(Schema::Object(open));
            }
        }
    }
}

/// The answers every route of a kind can give, from the extractors they share: 401 from the bearer
/// token; 400, 413, 415 and 422 from a JSON body; 400 from a malformed path segment or query
/// parameter. A route's own description of one of these wins.
fn add_common_responses(operation: &mut Operation) {
    let has = |operation: &Operation, place: ParameterIn| {
        operation.parameters.iter().flatten().any(|parameter| match parameter {
            RefOr::T(parameter) => parameter.parameter_in == place,
            RefOr::Ref(_) => false,
        })
    };
    let mut common: Vec<(&str, &str)> = Vec::new();
    if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
        common.push(("401", "No or unknown token"));
    }
    if operation.request_body.is_some() {
        common.extend([
            ("400", "The body is not JSON"),
            ("413", "The body is over the size limit"),
            ("415", "The body is not sent as JSON"),
            ("422", "A field of the wrong type, an unknown field, or a missing one"),
        ]);
    }
    if has(operation, ParameterIn::Path) {
        common.push((
            "400",
            "A path segment that is not valid UTF-8 or not of the expected type",
        ));
    }
    if has(operation, ParameterIn::Query) {
        common.push(("400", "A query parameter that is not valid"));
    }
    for (status, description) in common {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| problem_response(description));
    }
}

fn problem_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build(),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::document;
    use chrono::Utc;
    use sandpiper_contracts::events::{Drafted, Envelope};
    use sandpiper_contracts::ids::{ApplicationId, EventId, PartnerId};
    use sandpiper_contracts::model::ApplicationDraft;
    use sandpiper_contracts::names::ServiceName;
    use sandpiper_contracts::view::ApplicationView;
    use serde_json::{Value, json};

    /// A validator for one of the document's component schemas, its refs resolved in the document.
    fn validator(doc: &Value, name: &str) -> jsonschema::Validator {
        let schema = json!({"$ref": format!("#/components/schemas/{name}"), "components": doc["components"]});
        jsonschema::draft202012::new(&schema).unwrap()
    }

    /// A validator for a string schema holding just `pattern`.
    fn regex_lite(pattern: &Value) -> jsonschema::Validator {
        jsonschema::draft202012::new(&json!({"type": "string", "pattern": pattern})).unwrap()
    }

    fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
        validator.iter_errors(instance).map(|e| e.to_string()).collect()
    }

    #[test]
    fn the_view_schema_accepts_a_real_view_and_the_draft_schema_stays_closed() {
        let doc = serde_json::to_value(document()).unwrap();
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/examples/bedrock-agents-support.json"
        );
        let draft: ApplicationDraft = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let event = Envelope::new(
            EventId::generate(),
            ServiceName::Intake,
            PartnerId::parse("acme").unwrap(),
            ApplicationId::generate(),
            Utc::now(),
            &Drafted {
                draft: draft.clone(),
                originated_from: None,
            },
        )
        .unwrap();
        let view = serde_json::to_value(ApplicationView::create(&event, 1).unwrap()).unwrap();
        let found = errors(&validator(&doc, "ApplicationView"), &view);
        assert!(found.is_empty(), "{found:?}");

        let drafts = validator(&doc, "ApplicationDraft");
        assert!(errors(&drafts, &serde_json::to_value(&draft).unwrap()).is_empty());
        assert!(
            !drafts.is_valid(&json!({"servce": "bedrock-agents"})),
            "a request body still refuses unknown fields"
        );
    }

    #[test]
    fn every_route_documents_the_errors_its_extractors_give() {
        let doc = serde_json::to_value(document()).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let responses = &operation["responses"];
                let mut owed = Vec::new();
                if operation["security"].as_array().is_some_and(|s| !s.is_empty()) {
                    owed.push("401");
                }
                if operation.get("requestBody").is_some() {
                    owed.extend(["400", "413", "415", "422"]);
                }
                for status in owed {
                    assert_eq!(
                        responses[status]["content"]["application/problem+json"]["schema"]["$ref"],
                        "#/components/schemas/Problem",
                        "{method} {path} does not document its {status}"
                    );
                }
            }
        }
        for path in ["/healthz", "/readyz"] {
            assert!(doc["paths"][path]["get"].is_object(), "{path}");
        }
        // What schemathesis found the document looser than the server about (#13 item 6).
        let patch = &doc["paths"]["/v1/applications/{id}"]["patch"];
        assert_eq!(
            patch["requestBody"]["content"]["application/merge-patch+json"]["schema"]["$ref"],
            "#/components/schemas/ApplicationDraft",
            "a merge patch takes the draft's members only"
        );
        let if_match = patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "If-Match")
            .unwrap();
        assert_eq!(
            if_match["schema"]["type"], "string",
            "a header is never null: {if_match}"
        );
        let if_match_pattern = regex_lite(&if_match["schema"]["pattern"]);
        for (value, ok) in [
            ("*", true),
            ("\"42\"", true),
            ("\"1\", \"2\"", true),
            ("W/\"4\", \"abc\"", true),
            ("null", false),
            ("42", false),
            ("\"a b\"", false),
        ] {
            assert_eq!(if_match_pattern.is_valid(&json!(value)), ok, "If-Match {value}");
        }
        assert!(
            doc["components"]["schemas"]["Order"].is_object(),
            "the listing's order resolves"
        );
        let list = doc["paths"]["/v1/applications"]["get"]["parameters"]
            .as_array()
            .unwrap();
        let param = |name: &str| &list.iter().find(|p| p["name"] == name).unwrap()["schema"];
        assert_eq!(param("state")["$ref"], "#/components/schemas/State");
        assert_eq!(param("pool")["$ref"], "#/components/schemas/Programme");
        assert_eq!(param("limit")["minimum"], 1);
    }

    #[test]
    fn every_text_bound_finds_its_property() {
        let (_, mut fresh) = super::routes().split_for_parts();
        assert_eq!(super::state_bounds(&mut fresh), Vec::<String>::new());
    }

    /// The documented patterns take exactly the text the server takes: control characters by
    /// kind, and for notes at least one character that is not white space. (U+FEFF is left out:
    /// ECMA-262's `\s` counts it as white space, Rust's `trim` and Python's `\s` do not.)
    #[test]
    fn text_patterns_take_what_the_server_takes() {
        use sandpiper_contracts::model::{TextKind, control_message, text_pattern};
        let mut samples: Vec<String> = (0u32..=0xA0).filter_map(char::from_u32).map(String::from).collect();
        samples.extend(
            [
                "",
                " ",
                "  \t\n",
                "\u{2003}",
                "a",
                " a ",
                "a\tb\r\nc",
                "Évian ☕ 🚀",
                "a\u{85}",
                "\u{a0}x",
            ]
            .map(String::from),
        );
        for kind in [TextKind::SingleLine, TextKind::MultiLine] {
            for not_blank in [false, true] {
                let pattern = regex_lite(&json!(text_pattern(kind, not_blank)));
                for text in &samples {
                    let server = control_message(text, kind).is_none() && (!not_blank || !text.trim().is_empty());
                    assert_eq!(
                        pattern.is_valid(&json!(text)),
                        server,
                        "{kind:?}, not blank {not_blank}: {text:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn request_texts_and_lists_are_bounded_and_feed_variants_closed() {
        let doc = serde_json::to_value(document()).unwrap();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["StartupDraft"]["properties"]["name"]["maxLength"], 200);
        assert!(schemas["ApplicationDraft"]["properties"]["metrics"]["items"]["pattern"].is_string());
        assert_eq!(schemas["ApplicationDraft"]["properties"]["budget"]["maxItems"], 50);
        let range = &schemas["BudgetLineDraft"]["properties"]["monthly_usd_range"];
        assert_eq!((&range["minItems"], &range["maxItems"]), (&json!(2), &json!(2)));
        assert_eq!(schemas["ConcernReport"]["properties"]["note"]["minLength"], 1);
        for variant in schemas["NewFeed"]["oneOf"].as_array().unwrap() {
            assert_eq!(variant["additionalProperties"], false, "{variant}");
        }
    }
}
