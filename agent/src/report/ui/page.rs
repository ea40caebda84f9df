//! The page around each view: head, header, the live region the script
//! refreshes, and the embedded assets. Every link is relative to the page,
//! so the dashboard works under any path prefix and behind
//! `kubectl port-forward` or a reverse proxy, with or without the prefix.

use std::fmt::Write as _;
use std::sync::LazyLock;

use sha2::{Digest, Sha256};

use super::html::{esc, url_component};

/// The stylesheet.
pub const CSS: &str = include_str!("assets/plumb.css");
/// The script: live updates (server-sent events, polling as fallback) and relative times.
pub const JS: &str = include_str!("assets/plumb.js");
/// The icon.
pub const ICON: &str = include_str!("assets/icon.svg");

/// A digest of the assets, in their URLs so that caches never mix versions.
pub static ASSET_VERSION: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::digest([CSS, JS, ICON].concat().as_bytes());
    digest.iter().take(6).fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
});

/// The views, each at its own depth under the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// `{prefix}/`
    Root,
    /// `{prefix}/apps/NAME`
    App,
    /// `{prefix}/apps/NAME/diff`
    Diff,
}

impl Depth {
    /// The relative path from a page at this depth to the prefix.
    pub fn root(self) -> &'static str {
        match self {
            Depth::Root => "./",
            Depth::App => "../",
            Depth::Diff => "../../",
        }
    }
}

/// Relative link from a page at `depth` to the overview.
pub fn overview_link(depth: Depth) -> &'static str {
    depth.root()
}

/// Relative link from a page at `depth` to app `app`'s page.
pub fn app_link(depth: Depth, app: &str) -> String {
    format!("{}apps/{}", depth.root(), url_component(app))
}

/// Relative link from a page at `depth` to the diff of `object` of `app`.
pub fn diff_link(depth: Depth, app: &str, object: &str) -> String {
    format!("{}apps/{}/diff?object={}", depth.root(), url_component(app), url_component(object))
}

/// Where the page's live region gets its updates from (relative to the
/// page): the event stream and the fragment to poll when streams fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    /// `events/...`
    pub events: String,
    /// `fragments/...`
    pub fragment: String,
}

impl Live {
    /// The overview's.
    pub fn overview() -> Self {
        Self { events: "./events/overview".into(), fragment: "./fragments/overview".into() }
    }

    /// App `app`'s page, showing its objects from `from` on.
    pub fn app(app: &str, from: usize) -> Self {
        let view = format!("apps/{}?from={from}", url_component(app));
        Self { events: format!("../events/{view}"), fragment: format!("../fragments/{view}") }
    }
}

/// A whole page: `title`, the view's HTML (already escaped) in the live
/// region, refreshed from `live` when given.
pub fn page(title: &str, depth: Depth, live: Option<&Live>, view: &str) -> String {
    let root = depth.root();
    let version = ASSET_VERSION.as_str();
    let mut out = String::with_capacity(view.len() + 1024);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{} · plumb</title>\
         <link rel=\"icon\" href=\"{root}assets/icon.svg?v={version}\">\
         <link rel=\"stylesheet\" href=\"{root}assets/plumb.css?v={version}\">\
         <script src=\"{root}assets/plumb.js?v={version}\" defer></script></head>\n<body>\
         <header><a class=\"brand\" href=\"{root}\">plumb</a><span class=\"sub\">drift dashboard · read-only</span>\
         <span id=\"live\" class=\"live\" title=\"how this page gets updates\">{}</span></header>\n",
        esc(title),
        if live.is_some() { "connecting" } else { "static" },
    );
    match live {
        Some(live) => {
            let _ = write!(
                out,
                "<main id=\"view\" data-events=\"{}\" data-fragment=\"{}\">",
                esc(&live.events),
                esc(&live.fragment)
            );
        }
        None => out.push_str("<main id=\"view\">"),
    }
    out.push_str(view);
    out.push_str("</main>\n</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::ui::tests::urls;

    #[test]
    fn links_are_relative_to_the_page() {
        let html = page("x", Depth::App, Some(&Live::app("web", 0)), "<p>view</p>");
        let found = urls(&html);
        assert!(found.len() >= 6, "{found:?}");
        for url in &found {
            assert!(url.starts_with("../"), "{url} is not relative to the app page");
        }
        assert!(found.contains(&"../events/apps/web?from=0".to_string()), "{found:?}");
        for url in urls(&page("x", Depth::Root, Some(&Live::overview()), "")) {
            assert!(url.starts_with("./"), "{url}");
        }
        assert_eq!(app_link(Depth::Diff, "a b"), "../../apps/a%20b");
        assert_eq!(
            diff_link(Depth::Root, "web", "Deployment.apps/n/web"),
            "./apps/web/diff?object=Deployment.apps%2Fn%2Fweb"
        );
    }

    #[test]
    fn titles_are_escaped_and_static_pages_have_no_live_region() {
        let html = page("<b>", Depth::Diff, None, "");
        assert!(html.contains("<title>&lt;b&gt; · plumb</title>"), "{html}");
        assert!(!html.contains("data-events"), "{html}");
        assert!(html.contains(">static</span>"));
    }

    #[test]
    fn assets_are_small_and_load_nothing_from_elsewhere() {
        assert!(CSS.len() + JS.len() + ICON.len() < 20_000, "{} bytes", CSS.len() + JS.len() + ICON.len());
        for asset in [CSS, JS, ICON] {
            assert!(!asset.contains("http://") && !asset.contains("https://") || asset == ICON, "an external URL");
            assert!(!asset.contains("@import") && !asset.contains("url("), "an external resource");
        }
        assert_eq!(ASSET_VERSION.len(), 12);
    }
}
