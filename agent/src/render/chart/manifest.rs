//! From rendered templates to the documents Helm's install applies.
//!
//! Helm does not apply each template's text as a YAML stream. Its install
//! path (`releaseutil.SortManifests`) splits every rendered file with a
//! separator that also matches `---` followed by other text on the same line
//! (`---# comment`, `---apiVersion: v1`), drops each document's leading
//! whitespace, sets hooks apart (their documents are applied as split) and
//! writes the other documents into the release manifest as
//! `---\n# Source: <path>\n<document>\n`, the stream Kubernetes' builder
//! then reads. So a document ending a template keeps its trailing newlines
//! plus one (a `|+` block scalar sees them), while one followed by a
//! separator loses the whitespace before it. Documents with a hook event
//! Helm does not know (Helm 2's `crd-install`) are dropped, as Helm drops them.

use std::sync::LazyLock;

/// Helm's document separator (`releaseutil`'s `(?:^|\s*\n)---\s*`, with
/// Go's ASCII `\s`).
static SEPARATOR: LazyLock<regex::Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a constant pattern
    regex::Regex::new(r"(?:^|[\t\n\x0C\r ]*\n)---[\t\n\x0C\r ]*").unwrap()
});

/// Helm's `SplitManifests`: the non-empty documents of a rendered file,
/// each without its leading whitespace.
pub fn split(text: &str) -> Vec<&str> {
    SEPARATOR.split(text.trim_start()).filter(|d| !d.trim().is_empty()).map(str::trim_start).collect()
}

/// The text Kubernetes' builder reads for a document of the release
/// manifest (not a hook): the document and the newline Helm writes after it.
pub fn manifest_text(document: &str) -> String {
    format!("{document}\n")
}

/// Hook events Helm knows (`release.HookEvent`, and Helm 2's `test-success`).
const EVENTS: &[&str] = &[
    "pre-install",
    "post-install",
    "pre-delete",
    "post-delete",
    "pre-upgrade",
    "post-upgrade",
    "pre-rollback",
    "post-rollback",
    "test",
    "test-success",
];

/// What Helm makes of a document's `helm.sh/hook` annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookKind {
    /// Not a hook: part of the release manifest.
    None,
    /// A hook with these events (lower-cased, as Helm reads them).
    Events(Vec<String>),
    /// An event Helm does not know: Helm skips the document.
    Unknown,
}

/// True when a hook with these events runs on an install or an upgrade
/// (a test hook never does, even with other events).
pub fn runs_on_sync(events: &[String]) -> bool {
    !events.iter().any(|e| e.starts_with("test"))
        && events.iter().any(|e| matches!(e.as_str(), "pre-install" | "post-install" | "pre-upgrade" | "post-upgrade"))
}

/// Classifies a document by its `helm.sh/hook` annotation value.
pub fn hook_kind(annotation: Option<&str>) -> HookKind {
    let Some(value) = annotation else { return HookKind::None };
    let events: Vec<String> = value.split(',').map(|e| e.trim().to_lowercase()).collect();
    if events.iter().all(|e| EVENTS.contains(&e.as_str())) { HookKind::Events(events) } else { HookKind::Unknown }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_as_helm_does() {
        // (input, Helm's documents)
        let table: &[(&str, &[&str])] = &[
            ("a: 1\n", &["a: 1\n"]),
            ("---\na: 1\n---\nb: 2\n", &["a: 1", "b: 2\n"]),
            ("---# comment\na: 1\n", &["# comment\na: 1\n"]),
            ("a: 1\n---apiVersion: v1\n", &["a: 1", "apiVersion: v1\n"]),
            ("a: |+\n  x\n\n\n---\nb: 2\n\n", &["a: |+\n  x", "b: 2\n\n"]),
            ("\n\n  a: 1\n", &["a: 1\n"]),
            ("a: 1\n  ---\nb: 2\n", &["a: 1\n  ---\nb: 2\n"]),
            ("a: 1\n----\nb: 2\n", &["a: 1", "-\nb: 2\n"]),
            ("---\n---\n  \n---\n", &["---"]),
            ("a: 1\n--- \n# only a comment\n", &["a: 1", "# only a comment\n"]),
        ];
        for (input, want) in table {
            assert_eq!(split(input), *want, "{input:?}");
        }
    }

    #[test]
    fn hook_kinds() {
        assert_eq!(hook_kind(None), HookKind::None);
        assert_eq!(
            hook_kind(Some("pre-install, Post-Upgrade")),
            HookKind::Events(vec!["pre-install".into(), "post-upgrade".into()])
        );
        assert_eq!(hook_kind(Some("crd-install")), HookKind::Unknown);
        assert_eq!(hook_kind(Some("pre-install,crd-install")), HookKind::Unknown);
    }
}
