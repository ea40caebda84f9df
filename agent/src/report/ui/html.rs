//! HTML text: escaping every value that reaches a page, URL path and
//! query components, and the small text helpers the pages share.

use std::fmt;

/// `text` escaped for HTML text and quoted attribute values.
pub fn esc(text: &str) -> Escaped<'_> {
    Escaped(text)
}

/// A value written escaped (see [`esc`]).
pub struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            let (entity, tail) = match rest[at..].chars().next() {
                Some('&') => ("&amp;", &rest[at + 1..]),
                Some('<') => ("&lt;", &rest[at + 1..]),
                Some('>') => ("&gt;", &rest[at + 1..]),
                Some('"') => ("&quot;", &rest[at + 1..]),
                _ => ("&#39;", &rest[at + 1..]),
            };
            f.write_str(entity)?;
            rest = tail;
        }
        f.write_str(rest)
    }
}

/// `value` percent-encoded for a URL path segment or query value: only
/// unreserved characters stay.
pub fn url_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(char::from(byte)),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// `repo` without any userinfo (`https://user:token@host/x` ->
/// `https://host/x`; the status already masks it as `***@`). SCP-style
/// `git@host:path` names no secret and stays.
pub fn strip_userinfo(repo: &str) -> String {
    let Some((scheme, rest)) = repo.split_once("://") else { return repo.to_string() };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => repo.to_string(),
    }
}

/// The first 12 characters of a commit.
pub fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// The first line of a message.
pub fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        let hostile = r#"<script>alert("x")</script> & 'y' <img src=x onerror=1>"#;
        assert_eq!(
            esc(hostile).to_string(),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39; &lt;img src=x onerror=1&gt;"
        );
        assert_eq!(esc("plain ü text").to_string(), "plain ü text");
        assert_eq!(esc("").to_string(), "");
        assert_eq!(esc("&&").to_string(), "&amp;&amp;");
    }

    #[test]
    fn url_components_keep_only_unreserved_characters() {
        assert_eq!(url_component("web-1.x_y~"), "web-1.x_y~");
        assert_eq!(url_component("Deployment.apps/n/web"), "Deployment.apps%2Fn%2Fweb");
        assert_eq!(url_component("a b\"<>&?#ü"), "a%20b%22%3C%3E%26%3F%23%C3%BC");
    }

    #[test]
    fn repository_userinfo_is_removed() {
        for (given, shown) in [
            ("https://robot:s3cr3t@git.example.com/config.git", "https://git.example.com/config.git"),
            ("http://***@127.0.0.1:9000/config.git", "http://127.0.0.1:9000/config.git"),
            ("https://token@host/a@b", "https://host/a@b"),
            ("ssh://git@host:2222/repo", "ssh://host:2222/repo"),
            ("https://host/path", "https://host/path"),
            ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
            ("/srv/config", "/srv/config"),
        ] {
            assert_eq!(strip_userinfo(given), shown, "{given}");
        }
    }

    #[test]
    fn text_helpers() {
        assert_eq!(short("0123456789abcdef"), "0123456789ab");
        assert_eq!(short("abc"), "abc");
        assert_eq!(first_line("one\ntwo"), "one");
        assert_eq!(first_line(""), "");
    }
}
