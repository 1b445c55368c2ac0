//! One module per page. Each handler reads what it shows through the API, as the signed-in
//! principal, and renders one template.

pub mod admin;
pub mod agenda;
pub mod application;
pub mod draft;
pub mod pipeline;
pub mod position;
pub mod sign_in;

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::Console;
use crate::display;
use crate::web::SignedIn;

/// What the frame of every signed-in page shows: who is signed in, the sign-out form's CSRF
/// token, and the clock.
pub struct Chrome {
    pub who: String,
    pub is_admin: bool,
    pub csrf: String,
    pub simulated: bool,
    pub now: String,
    /// Which navigation entry is the current page.
    pub current: &'static str,
}

impl Chrome {
    pub fn of(user: &SignedIn, console: &Console, current: &'static str) -> Chrome {
        Chrome {
            who: user.who(),
            is_admin: user.is_admin(),
            csrf: user.session.csrf.clone(),
            simulated: console.clock.is_simulated(),
            now: display::moment(&console.clock.now()),
            current,
        }
    }

    /// `aria-current="page"` for the current entry (an attribute the template adds as is).
    pub fn is(&self, entry: &str) -> bool {
        self.current == entry
    }
}

const STYLE: &str = include_str!("../../static/console.css");
const SCRIPT: &str = include_str!("../../static/console.js");

/// The console's own style sheet and script (the only ones its policy allows).
pub async fn static_file(Path(file): Path<String>) -> Response {
    let (body, content_type) = match file.as_str() {
        "console.css" => (STYLE, "text/css; charset=utf-8"),
        "console.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "no such file").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// The catalog's services in force as (id, display name), for a choice; none when no version
/// is in force (the API's 404), which the form then shows as an empty choice.
pub async fn services(
    console: &Console,
    principal: &sandpiper_runtime::http::auth::Principal,
) -> Result<Vec<(String, String)>, crate::api::ApiError> {
    match console
        .api
        .get::<sandpiper_contracts::catalog::Catalog>(principal, "/v1/catalog")
        .await
    {
        Ok(catalog) => Ok(catalog.services.into_iter().map(|s| (s.id, s.display_name)).collect()),
        Err(err) if err.is_not_found() => Ok(Vec::new()),
        Err(err) => Err(err),
    }
}
