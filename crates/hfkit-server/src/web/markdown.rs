//! A README (model card) as HTML that cannot run anything: pulldown-cmark renders it (the
//! YAML front matter dropped, tables, strikethrough and task lists on), then ammonia keeps
//! only an allowlist of tags and attributes — no `<script>`, no `on…=` handlers, no
//! `javascript:` URLs — gives links `rel="nofollow noopener noreferrer"`, prefixes ids
//! (`user-content-`), and points relative links and images at the repo's files at the
//! shown commit (`/{repo}/resolve/{commit}/…`). The page's CSP forbids inline script too.

use std::borrow::Cow;

use pulldown_cmark::{Options, Parser};

/// Renders `markdown` safely; relative URLs resolve under `base` (`/{repo}/resolve/{commit}/`).
pub(crate) fn render(markdown: &str, base: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_YAML_STYLE_METADATA_BLOCKS;
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, Parser::new_ext(markdown, options));
    let relative = Relative(base.to_owned());
    ammonia::Builder::default()
        .link_rel(Some("nofollow noopener noreferrer"))
        .id_prefix(Some("user-content-"))
        .url_relative(ammonia::UrlRelative::Custom(Box::new(relative)))
        .clean(&html)
        .to_string()
}

/// Points relative URLs under the repo's files; keeps `#anchors` and `/paths`.
struct Relative(String);

impl<'a> ammonia::UrlRelativeEvaluate<'a> for Relative {
    fn evaluate<'url>(&self, url: &'url str) -> Option<Cow<'url, str>> {
        if url.starts_with('#') || url.starts_with('/') {
            Some(Cow::Borrowed(url))
        } else {
            Some(Cow::Owned(format!("{}{}", self.0, url.trim_start_matches("./"))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn front_matter_is_dropped_and_markdown_rendered() {
        let html = render("---\nlicense: mit\n---\n# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n", "/m/resolve/c/");
        assert!(!html.contains("license"), "{html}");
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<table>"), "{html}");
    }

    #[test]
    fn relative_links_point_at_the_repo_files() {
        let html =
            render("![x](images/a.png) [doc](./doc.md) [ext](https://example.org/) [top](#title)", "/o/m/resolve/abc/");
        assert!(html.contains(r#"src="/o/m/resolve/abc/images/a.png""#), "{html}");
        assert!(html.contains(r#"href="/o/m/resolve/abc/doc.md""#), "{html}");
        assert!(html.contains(r#"href="https://example.org/""#), "{html}");
        assert!(html.contains(r##"href="#title""##), "{html}");
        assert!(html.contains("nofollow noopener noreferrer"), "{html}");
    }
}
