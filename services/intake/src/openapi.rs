//! The OpenAPI 3.1 document, generated from the route annotations and schema derives: the routes
//! registered through [`router`] are exactly the paths documented.

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::routes::{applications, engagement, preflight, system};
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
    components(schemas(Problem)),
    tags(
        (name = "applications", description = "Applications and their history"),
        (name = "engagement", description = "Credits, office hours and the decision after approval"),
        (name = "system", description = "The catalog and the clock"),
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

/// The documented API routes and their OpenAPI document.
pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(applications::create, applications::list))
        .routes(routes!(applications::get_one, applications::patch))
        .routes(routes!(applications::submit))
        .routes(routes!(applications::events))
        .routes(routes!(preflight::preflight))
        .routes(routes!(engagement::consumption))
        .routes(routes!(engagement::concern))
        .routes(routes!(engagement::feedback))
        .routes(routes!(engagement::calendar))
        .routes(routes!(engagement::decision))
        .routes(routes!(engagement::credit_position))
        .routes(routes!(system::catalog, system::publish_catalog))
        .routes(routes!(system::catalog_versions))
        .routes(routes!(system::clock))
        .routes(routes!(system::advance_clock))
        .with_state(state)
        .split_for_parts()
}
