//! The guide's journey as a person sees it: `hf serve`'s pages in headless Chromium.

use hfkit_test::{Browser, HubFixture};

#[test]
fn the_browser_harness_reads_a_page_of_the_server() {
    let hub = HubFixture::new().start();
    let browser = Browser::start();
    browser.goto(&format!("{}/health", hub.url()));
    let text = browser.wait_for_text("ok");
    assert!(browser.url().ends_with("/health"), "{}", browser.url());
    assert!(!text.is_empty());
    let shot = tempfile::tempdir().unwrap();
    browser.screenshot(&shot.path().join("health.png"));
    assert!(std::fs::metadata(shot.path().join("health.png")).unwrap().len() > 100);
}
