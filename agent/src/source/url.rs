//! Source locations: which transport, what to hand libgit2, and a redacted
//! form (no credentials) for every log line, event and error.

use super::SourceError;

/// How plumb talks to the remote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Smart HTTP over TLS.
    Https,
    /// Smart HTTP in clear text: loopback only unless explicitly allowed.
    Http,
    /// SSH (`ssh://` or scp-like `user@host:path`).
    Ssh,
    /// The git daemon protocol.
    Git,
    /// A repository on the local filesystem (`file://` or a plain path).
    File,
}

/// A parsed source location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceUrl {
    /// The transport.
    pub transport: Transport,
    /// What libgit2 is given.
    pub url: String,
    /// The URL with any credentials replaced by `***`: the only form logged.
    pub redacted: String,
}

impl SourceUrl {
    /// The remote's port (the transport's default when the URL has none).
    pub fn port(&self) -> u16 {
        let default = match self.transport {
            Transport::Https => 443,
            Transport::Http => 80,
            Transport::Ssh => 22,
            Transport::Git => 9418,
            Transport::File => 0,
        };
        let Some((_, rest)) = self.url.split_once("://") else { return default };
        let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let port = match host_port.rsplit_once(']') {
            Some((_, after)) => after.strip_prefix(':'),
            None => host_port.rsplit_once(':').map(|(_, p)| p),
        };
        port.and_then(|p| p.parse().ok()).unwrap_or(default)
    }

    /// The local path of a `File` source.
    pub fn local_path(&self) -> Option<&str> {
        (self.transport == Transport::File).then(|| self.url.trim_start_matches("file://"))
    }
}

impl std::fmt::Display for SourceUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted)
    }
}

fn bad(url: &str, problem: &str) -> SourceError {
    SourceError::BadUrl { url: redact(url), problem: problem.to_string() }
}

/// Replaces the userinfo of `scheme://user:secret@host/...` with `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) if scheme != "ssh" || rest[..at].contains(':') => format!("{scheme}://***@{}", &rest[at + 1..]),
        _ => url.to_string(),
    }
}

fn host_of(rest: &str) -> &str {
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = host_port.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    host_port.split(':').next().unwrap_or("")
}

/// Parses `input`. Clear-text `http://` is refused for non-loopback hosts
/// unless `allow_insecure_http`.
pub fn parse(input: &str, allow_insecure_http: bool) -> Result<SourceUrl, SourceError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(bad(input, "is empty"));
    }
    let with = |transport, url: String| SourceUrl { transport, redacted: redact(&url), url };
    if let Some((scheme, rest)) = input.split_once("://") {
        let transport = match scheme {
            "https" => Transport::Https,
            "http" => Transport::Http,
            "ssh" => Transport::Ssh,
            "git" => Transport::Git,
            "file" => Transport::File,
            other => {
                return Err(bad(input, &format!("unsupported scheme {other:?}; use https, http, ssh, git or file")));
            }
        };
        if transport != Transport::File && host_of(rest).is_empty() {
            return Err(bad(input, "has no host"));
        }
        if transport == Transport::Http
            && !allow_insecure_http
            && !matches!(host_of(rest), "127.0.0.1" | "localhost" | "::1")
        {
            return Err(bad(
                input,
                "http:// sends credentials and content in clear text; use https://, or allow insecure HTTP explicitly",
            ));
        }
        return Ok(with(transport, input.to_string()));
    }
    // scp-like: [user@]host:path, where the host part has no '/'.
    if let Some((host, path)) = input.split_once(':')
        && !host.contains('/')
        && !path.is_empty()
        && !host.is_empty()
        && host.len() > 1
    {
        return Ok(with(Transport::Ssh, input.to_string()));
    }
    let path = std::path::Path::new(input);
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map_err(|e| bad(input, &e.to_string()))?.join(path)
    };
    Ok(with(Transport::File, absolute.display().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports() {
        let table = [
            ("https://github.com/org/repo.git", Transport::Https),
            ("http://127.0.0.1:8080/repo.git", Transport::Http),
            ("http://localhost/repo", Transport::Http),
            ("ssh://git@example.com:2222/org/repo.git", Transport::Ssh),
            ("git@github.com:org/repo.git", Transport::Ssh),
            ("git://127.0.0.1:9418/repo", Transport::Git),
            ("file:///srv/repo", Transport::File),
            ("/srv/repo", Transport::File),
        ];
        for (input, transport) in table {
            assert_eq!(parse(input, false).expect(input).transport, transport, "{input}");
        }
        assert!(parse("./repo", false).expect("relative").url.ends_with("/repo"));
    }

    #[test]
    fn refusals() {
        let table = [
            ("", "is empty"),
            ("ftp://host/repo", "unsupported scheme \"ftp\""),
            ("http://example.com/repo", "http:// sends credentials"),
            ("https:///repo", "has no host"),
        ];
        for (input, want) in table {
            let err = parse(input, false).expect_err(input).to_string();
            assert!(err.contains(want), "{input}: {err}");
        }
        assert!(parse("http://example.com/repo", true).is_ok());
    }

    #[test]
    fn ports() {
        let port = |u: &str| parse(u, true).expect(u).port();
        assert_eq!(port("ssh://git@example.com:2222/r.git"), 2222);
        assert_eq!(port("ssh://git@example.com/r.git"), 22);
        assert_eq!(port("git@example.com:org/r.git"), 22);
        assert_eq!(port("https://user:pw@example.com/r"), 443);
        assert_eq!(port("http://[::1]:8080/r"), 8080);
        assert_eq!(port("git://127.0.0.1:9999/r"), 9999);
    }

    #[test]
    fn credentials_never_show() {
        let url = parse("https://user:ghp_SECRET@github.com/org/repo.git", false).expect("valid");
        assert_eq!(url.redacted, "https://***@github.com/org/repo.git");
        assert_eq!(url.to_string(), url.redacted);
        assert!(!parse("ftp://u:SECRET@h/r", false).expect_err("bad").to_string().contains("SECRET"));
        assert_eq!(redact("ssh://git@example.com/repo"), "ssh://git@example.com/repo");
        assert_eq!(redact("https://token@example.com/repo"), "https://***@example.com/repo");
    }
}
