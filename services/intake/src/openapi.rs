//! The OpenAPI 3.1 document, generated from the route annotations and schema derives: the routes
//! registered through [`router`] are exactly the paths documented.

use axum::Router;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{AdditionalProperties, Schema};
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
            ("null", false),
            ("W/\"4\"", false),
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
}
