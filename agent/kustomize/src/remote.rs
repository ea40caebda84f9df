//! Remote bases: which `resources:` entries are Git URLs, parsed as
//! kustomize's `git.NewRepoSpecFromURL` parses them
//! (`https://host/org/repo//path?ref=v1`, `git@host:org/repo.git/path`,
//! `github.com/org/repo/path`). Fetching is the caller's job
//! ([`crate::RemoteBases`]).

/// A parsed remote base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSpec {
    /// The entry as written.
    pub raw: String,
    /// What to clone (`https://host/org/repo`, `git@host:org/repo.git`).
    pub repo: String,
    /// The kustomization's directory inside the repository.
    pub path: String,
    /// `?ref=` (or `?version=`): a tag, branch or commit; empty for the default branch.
    pub reference: String,
}

/// Parses `url` if it is a remote base.
pub fn parse(url: &str) -> Option<RemoteSpec> {
    if url.starts_with('/') {
        return None;
    }
    let (n, query) = url.split_once('?').unwrap_or((url, ""));
    let mut reference = String::new();
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("ref", v)) if !v.is_empty() => reference = v.to_string(),
            Some(("version", v)) if reference.is_empty() => reference = v.to_string(),
            _ => {}
        }
    }
    let n = strip_prefix_ci(n, "git::").unwrap_or(n);
    let (scheme, n) = ["ssh://", "https://", "http://", "file://"]
        .iter()
        .find_map(|p| strip_prefix_ci(n, p).map(|rest| (*p, rest)))
        .unwrap_or(("", n));
    let (username, n) = match n.find('@') {
        Some(i)
            if i > 0
                && n[..i].bytes().enumerate().all(|(j, b)| {
                    if j == 0 { b.is_ascii_alphabetic() } else { b.is_ascii_alphanumeric() || b == b'-' }
                }) =>
        {
            (&n[..=i], &n[i + 1..])
        }
        _ => ("", n),
    };
    let lower = n.to_ascii_lowercase();
    let std_github = lower.starts_with("github.com/") || lower.starts_with("github.com:");
    let scp = scheme.is_empty() && (!username.is_empty() || std_github);
    if scheme.is_empty() && !scp {
        return None;
    }
    let (host, rest) = if scheme == "file://" {
        (format!("{scheme}{username}"), n.to_string())
    } else {
        let slash = n.find('/');
        let sep = if scp {
            match (slash, n.find(':')) {
                (None, c) => c,
                (Some(s), Some(c)) if c > 0 && c < s => Some(c),
                (s, _) => s,
            }
        } else {
            slash
        };
        let (h, r) = match sep {
            Some(i) => (&n[..=i], &n[i + 1..]),
            None => (n, ""),
        };
        if std_github {
            if scheme == "ssh://" || !username.is_empty() {
                (format!("{username}github.com:"), r.to_string())
            } else {
                ("https://github.com/".to_string(), r.to_string())
            }
        } else {
            if h.is_empty() {
                return None;
            }
            (format!("{scheme}{username}{h}"), r.to_string())
        }
    };
    let (repo_path, path) = split_repo_path(&rest, scheme == "file://")?;
    if path.split('/').find(|s| !s.is_empty() && *s != ".") == Some("..") {
        return None;
    }
    Some(RemoteSpec {
        raw: url.to_string(),
        repo: format!("{host}{repo_path}"),
        path: path.trim_start_matches('/').to_string(),
        reference,
    })
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len() && s.is_char_boundary(prefix.len()) && s[..prefix.len()].eq_ignore_ascii_case(prefix))
        .then(|| &s[prefix.len()..])
}

fn split_repo_path(n: &str, all_segments: bool) -> Option<(String, String)> {
    let (repo, path) = if let Some(i) = n.find("_git/") {
        let after = &n[i + 5..];
        let (first, rest) = after.split_once('/').unwrap_or((after, ""));
        (format!("{}{first}", &n[..i + 5]), rest.to_string())
    } else if let Some(i) = n.find("//") {
        (n[..i].to_string(), n[i + 2..].to_string())
    } else if let Some(i) = n.find(".git") {
        (n[..i + 4].to_string(), n[i + 4..].to_string())
    } else if all_segments {
        (n.to_string(), String::new())
    } else {
        let segments: Vec<&str> = n.split('/').collect();
        if segments.len() < 2 {
            return None;
        }
        (segments[..2].join("/"), segments[2..].join("/"))
    };
    (!repo.is_empty()).then_some((repo, path))
}

/// A full 40-character commit SHA.
pub fn is_commit(reference: &str) -> bool {
    reference.len() == 40 && reference.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let r = parse("https://github.com/org/repo//deploy/base?ref=v1.2.0").expect("remote");
        assert_eq!(
            (r.repo.as_str(), r.path.as_str(), r.reference.as_str()),
            ("https://github.com/org/repo", "deploy/base", "v1.2.0")
        );
        let r = parse("git@example.com:org/repo.git/base?ref=main").expect("scp");
        assert_eq!((r.repo.as_str(), r.path.as_str()), ("git@example.com:org/repo.git", "base"));
        let r = parse("github.com/org/repo/base").expect("github");
        assert_eq!((r.repo.as_str(), r.path.as_str()), ("https://github.com/org/repo", "base"));
        let r = parse("http://127.0.0.1:9418/repo.git//app?ref=abc").expect("http");
        assert_eq!((r.repo.as_str(), r.path.as_str()), ("http://127.0.0.1:9418/repo.git", "app"));
        assert!(parse("../base").is_none() && parse("base/deploy.yaml").is_none() && parse("/abs").is_none());
        assert!(is_commit(&"a".repeat(40)) && !is_commit("v1"));
    }
}
