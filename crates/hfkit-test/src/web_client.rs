//! A browser without JavaScript, for HTTP-level tests of the web pages (the real Chromium is
//! [`crate::Browser`]): it keeps cookies by hand (so a
//! test can read every flag, or plant a cookie), follows no redirect by itself, and posts
//! forms from the same origin as our pages do, reading their CSRF tokens from the HTML.

use std::collections::BTreeMap;

/// A form-posting HTTP client: a cookie jar, no automatic redirects.
#[derive(Debug)]
pub struct WebClient {
    base: String,
    client: reqwest::blocking::Client,
    /// The cookies kept (name → value), to plant or inspect one.
    pub cookies: BTreeMap<String, String>,
}

/// A page as the browser got it.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body, as text.
    pub body: String,
}

impl Answer {
    /// The `Location` header (empty without one).
    pub fn location(&self) -> &str {
        self.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// Every `Set-Cookie` header.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect()
    }

    /// The value of the first hidden `csrf` field.
    pub fn csrf(&self) -> String {
        let at = self.body.find(r#"name="csrf" value=""#).expect("a form with a CSRF token");
        let rest = &self.body[at + r#"name="csrf" value=""#.len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }

    /// The text of the element with `id`.
    pub fn text_of(&self, id: &str) -> Option<String> {
        let at = self.body.find(&format!(r#"id="{id}""#))?;
        let open = at + self.body[at..].find('>')? + 1;
        let close = open + self.body[open..].find('<')?;
        Some(self.body[open..close].trim().to_owned())
    }
}

impl WebClient {
    /// A browser for the server at `base` (`http://127.0.0.1:PORT`), with no cookie yet.
    pub fn new(base: &str) -> Self {
        let client = reqwest::blocking::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { base: base.to_owned(), client, cookies: BTreeMap::new() }
    }

    /// The HTTP client (no redirects followed), to build a request by hand.
    pub fn client(&self) -> &reqwest::blocking::Client {
        &self.client
    }

    fn keep(&mut self, answer: &Answer) {
        for cookie in answer.set_cookies() {
            let pair = cookie.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || cookie.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    /// Sends a request with the kept cookies, and keeps the cookies it sets.
    pub fn send(&mut self, request: reqwest::blocking::RequestBuilder) -> Answer {
        let request = if self.cookies.is_empty() { request } else { request.header("cookie", self.cookie_header()) };
        let response = request.send().unwrap();
        let answer = Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.text().unwrap(),
        };
        self.keep(&answer);
        answer
    }

    /// `GET {base}{path}`.
    pub fn get(&mut self, path: &str) -> Answer {
        let request = self.client.get(format!("{}{path}", self.base));
        self.send(request)
    }

    /// Posts a form as our pages' forms are posted (same origin).
    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let request = self.client.post(format!("{}{path}", self.base)).header("origin", &self.base).form(fields);
        self.send(request)
    }

    /// Signs in through `/login` as a person does: the form, then the post.
    pub fn sign_in(&mut self, user: &str, password: &str) -> Answer {
        let form = self.get("/login");
        assert_eq!(form.status, 200);
        let csrf = form.csrf();
        self.post("/login", &[("csrf", &csrf), ("next", "/"), ("username", user), ("password", password)])
    }
}
