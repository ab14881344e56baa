//! A real browser for tests of `hf serve`'s web pages: Debian's headless Chromium, driven
//! through its ChromeDriver over the W3C WebDriver protocol.
//!
//! The protocol is a handful of JSON requests (open a session, go to a URL, find an element,
//! click it, type into it, read its text, take a screenshot), so this is a small client of
//! our own rather than a WebDriver crate and its async stack. Every browser gets a fresh
//! profile in a temporary folder and the flags that keep Chromium off the network (this
//! machine has none): nothing is shared between tests, and nothing is left behind.
//!
//! `scripts/test` installs `chromium` and `chromium-driver`; `HFKIT_TEST_CHROMIUM` and
//! `HFKIT_TEST_CHROMEDRIVER` point elsewhere.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// How long a page or an element may take to appear before a test fails.
pub const BROWSER_WAIT: Duration = Duration::from_secs(15);

/// The W3C key for an element reference in WebDriver answers.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A headless Chromium with one WebDriver session; both stop when this is dropped.
#[derive(Debug)]
pub struct Browser {
    driver: Child,
    base: String,
    http: reqwest::blocking::Client,
    _profile: tempfile::TempDir,
}

/// An element of the current page.
#[derive(Debug)]
pub struct Element<'b> {
    browser: &'b Browser,
    id: String,
    /// How it was found, to find it again when the page was replaced under it.
    css: String,
}

fn tool(var: &str, default: &str) -> PathBuf {
    let path = std::env::var(var).map_or_else(|_| PathBuf::from(default), PathBuf::from);
    assert!(
        path.exists(),
        "the browser tests need Debian's chromium and chromium-driver ({} is missing): `bash scripts/test` installs them, or set {var}",
        path.display()
    );
    path
}

impl Browser {
    /// Starts ChromeDriver and a headless Chromium with a fresh profile.
    pub fn start() -> Self {
        let chromium = tool("HFKIT_TEST_CHROMIUM", "/usr/bin/chromium");
        let chromedriver = tool("HFKIT_TEST_CHROMEDRIVER", "/usr/bin/chromedriver");
        let mut driver = Command::new(chromedriver)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let port = read_driver_port(&mut driver);
        let profile = tempfile::Builder::new().prefix("hfkit-chromium").tempdir().expect("temp dir");
        let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().expect("http client");
        let mut browser = Self { driver, base: format!("http://127.0.0.1:{port}"), http, _profile: profile };
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--window-size=1200,900".to_owned(),
            format!("--user-data-dir={}", browser._profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        }}});
        let answer = browser.call("POST", "/session", Some(caps));
        let session = answer["sessionId"].as_str().expect("a WebDriver session id").to_owned();
        browser.base = format!("{}/session/{session}", browser.base);
        browser
    }

    /// Opens `url` and waits until it has loaded.
    pub fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url})));
    }

    /// The address of the page shown now.
    pub fn url(&self) -> String {
        self.call("GET", "/url", None).as_str().unwrap_or_default().to_owned()
    }

    /// The visible text of the whole page.
    pub fn text(&self) -> String {
        self.find("body").text()
    }

    /// The page's HTML source as the browser has it now.
    pub fn source(&self) -> String {
        self.call("GET", "/source", None).as_str().unwrap_or_default().to_owned()
    }

    /// The first element matching `css`, waiting for it up to [`BROWSER_WAIT`].
    pub fn find(&self, css: &str) -> Element<'_> {
        let deadline = Instant::now() + BROWSER_WAIT;
        loop {
            if let Some(found) = self.try_find(css) {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no element matches `{css}` on {} after {BROWSER_WAIT:?}; the page says:\n{}",
                self.url(),
                self.source()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The first element matching `css` now, if there is one.
    pub fn try_find(&self, css: &str) -> Option<Element<'_>> {
        self.find_all(css).into_iter().next()
    }

    /// Every element matching `css` now.
    pub fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        let found = self.call("POST", "/elements", Some(json!({"using": "css selector", "value": css})));
        found
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|e| e[ELEMENT_KEY].as_str())
                    .map(|id| Element { browser: self, id: id.to_owned(), css: css.to_owned() })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits until the page's text contains `needle`, and returns the text.
    pub fn wait_for_text(&self, needle: &str) -> String {
        let deadline = Instant::now() + BROWSER_WAIT;
        loop {
            let text = self.text();
            if text.contains(needle) {
                return text;
            }
            assert!(Instant::now() < deadline, "`{needle}` never appeared on {}; the page says:\n{text}", self.url());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the element matching `css` has a text containing `needle` (after a form
    /// was sent, the old page may still be shown for a moment), and returns its text.
    pub fn wait_for_element_text(&self, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + BROWSER_WAIT;
        loop {
            let text = self.try_find(css).and_then(|e| e.try_text());
            if let Some(text) = text.filter(|t| t.contains(needle)) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "`{css}` never said `{needle}` on {}; the page says:\n{}",
                self.url(),
                self.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Fills the field matching `css` with `text` (after clearing it).
    pub fn fill(&self, css: &str, text: &str) {
        let field = self.find(css);
        field.clear();
        field.type_text(text);
    }

    /// The browser's cookies for the current page, as WebDriver reports them (with their
    /// `httpOnly`, `secure` and `sameSite` flags).
    pub fn cookies(&self) -> Vec<Value> {
        self.call("GET", "/cookie", None).as_array().cloned().unwrap_or_default()
    }

    /// Saves a PNG of the viewport to `path` (creating its folder).
    pub fn screenshot(&self, path: &Path) {
        let encoded = self.call("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().expect("a screenshot"))
            .expect("a screenshot in base64");
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create the screenshot folder");
        }
        std::fs::write(path, png).expect("write the screenshot");
    }

    /// One WebDriver command; a WebDriver error fails the test with its message.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body).unwrap_or_else(|e| panic!("{e}"))
    }

    /// One WebDriver command, its error as a message.
    fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.http.get(&url),
            "DELETE" => self.http.delete(&url),
            _ => self.http.post(&url).json(&body.unwrap_or_else(|| json!({}))),
        };
        let answer = request.send().map_err(|e| format!("WebDriver {method} {path}: {e}"))?;
        let status = answer.status();
        let value: Value = answer.json().map_err(|e| format!("WebDriver {method} {path}: not JSON: {e}"))?;
        if !status.is_success() {
            return Err(format!("WebDriver {method} {path} failed ({status}): {}", value["value"]["message"]));
        }
        Ok(value["value"].clone())
    }
}

impl Element<'_> {
    /// Clicks the element (a link is followed, a form button submits its form).
    pub fn click(&self) {
        self.browser.call("POST", &format!("/element/{}/click", self.id), None);
    }

    /// Types `text` into the element.
    pub fn type_text(&self, text: &str) {
        self.browser.call("POST", &format!("/element/{}/value", self.id), Some(json!({"text": text})));
    }

    /// Empties an input or text area.
    pub fn clear(&self) {
        self.browser.call("POST", &format!("/element/{}/clear", self.id), None);
    }

    /// The element's visible text; if the page was replaced under it (a form was sent), the
    /// text of the element found again by the same selector.
    pub fn text(&self) -> String {
        if let Some(text) = self.try_text() {
            return text;
        }
        self.browser.find(&self.css).try_text().unwrap_or_else(|| panic!("`{}` has no text", self.css))
    }

    /// The element's visible text, `None` if it is gone from the page.
    fn try_text(&self) -> Option<String> {
        let text = self.browser.try_call("GET", &format!("/element/{}/text", self.id), None).ok()?;
        Some(text.as_str().unwrap_or_default().to_owned())
    }

    /// The element's current property `name` (`value` of an input, `checked`, `href`…).
    pub fn property(&self, name: &str) -> Option<String> {
        let value = self.browser.call("GET", &format!("/element/{}/property/{name}", self.id), None);
        match value {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => Some(other.to_string()),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ends the session (Chromium exits), then the driver; errors no longer matter here.
        let _ = self.http.delete(&self.base).send();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Reads ChromeDriver's "started successfully on port N" line.
fn read_driver_port(driver: &mut Child) -> u16 {
    let stdout = driver.stdout.take().expect("chromedriver's output");
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.expect("read chromedriver's output");
        if let Some(rest) = line.split("started successfully on port ").nth(1) {
            let port = rest.trim_end_matches('.').trim().parse().expect("chromedriver's port");
            // Keep draining its output so the driver never blocks on a full pipe.
            std::thread::spawn(move || lines.for_each(drop));
            return port;
        }
    }
    panic!("chromedriver stopped before it listened");
}
