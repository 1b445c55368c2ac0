//! The console over plain HTTP, as a browser without script would use it: for the tests of its
//! security edges and for the bench's page timings.

use crate::TestApp;

/// A browser-less client of the console: its cookies kept by hand, redirects not followed.
pub struct ConsoleSession<'a> {
    pub app: &'a TestApp,
    pub http: reqwest::Client,
    /// The session cookie's value.
    pub cookie: String,
    /// The session's CSRF token, as its pages carry it.
    pub csrf: String,
}

/// The value a `Set-Cookie` header of the answer gives `name`.
pub fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default()[name.len() + 1..].to_owned())
}

/// The value of a hidden input named `name` in a page.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .map(|i| i + marker.len())
        .unwrap_or_else(|| panic!("no {name} in {html}"));
    html[start..].split('"').next().unwrap().to_owned()
}

impl<'a> ConsoleSession<'a> {
    /// Signs in as the browser does: the sign-in form's double-submit token, then the token.
    pub async fn sign_in(app: &'a TestApp, token: &str) -> ConsoleSession<'a> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let form = http.get(app.url("/console/sign-in")).send().await.unwrap();
        let pre = set_cookie(&form, "sandpiper_console_sign_in").expect("a sign-in cookie");
        let csrf = hidden(&form.text().await.unwrap(), "csrf");
        let signed = http
            .post(app.url("/console/sign-in"))
            .header("cookie", format!("sandpiper_console_sign_in={pre}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                serde_urlencoded::to_string([("csrf", csrf.as_str()), ("token", token), ("next", "/console")]).unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(signed.status(), 303);
        let cookie = set_cookie(&signed, "sandpiper_console").expect("a session cookie");
        let mut console = ConsoleSession {
            app,
            http,
            cookie,
            csrf: String::new(),
        };
        let (status, page) = console.get("/console").await;
        assert_eq!(status, 200);
        console.csrf = hidden(&page, "csrf");
        console
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(self.app.url(path))
            .header("cookie", format!("sandpiper_console={}", self.cookie))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let response = self
            .http
            .post(self.app.url(path))
            .header("cookie", format!("sandpiper_console={}", self.cookie))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap())
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }
}
