//! API errors as plumb keeps them: the HTTP status code and the API's
//! reason (`Conflict`, `Invalid`, `Expired`...), its message, and whether
//! retrying the same request can help.

use std::fmt;

/// A failed API request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ClusterError {
    /// HTTP status code; 0 when no response came (connection refused,
    /// reset, timed out).
    pub code: u16,
    /// The API's reason (`metav1.StatusReason`), or one derived from the
    /// code when the response carried none; `Timeout` and `Unreachable`
    /// for requests without a response.
    pub reason: String,
    /// The API server's message (or the transport's).
    pub message: String,
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.code == 0 {
            write!(f, "{} ({})", self.message, self.reason)
        } else {
            write!(f, "{} ({} {})", self.message, self.code, self.reason)
        }
    }
}

impl ClusterError {
    /// An error with a response.
    pub fn status(code: u16, reason: &str, message: impl Into<String>) -> Self {
        let reason = if reason.is_empty() { reason_of(code) } else { reason };
        Self { code, reason: reason.to_string(), message: message.into() }
    }

    /// A request that got no response within its deadline.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self { code: 0, reason: "Timeout".into(), message: message.into() }
    }

    /// A request that could not reach the API server.
    pub fn unreachable(message: impl Into<String>) -> Self {
        Self { code: 0, reason: "Unreachable".into(), message: message.into() }
    }

    /// True when the same request may succeed later without anything
    /// changing on plumb's side: no response, throttling (429), server
    /// errors and unavailability (500, 502, 503, 504), and the API's own
    /// timeouts. A conflict (409), an invalid object (422), a forbidden
    /// request (403) or a missing resource (404) need a different request.
    pub fn retryable(&self) -> bool {
        matches!(self.code, 0 | 429 | 500 | 502 | 503 | 504)
            || matches!(self.reason.as_str(), "ServerTimeout" | "Timeout" | "TooManyRequests")
    }

    /// 404.
    pub fn is_not_found(&self) -> bool {
        self.code == 404
    }

    /// 409 (a conflict or an object that already exists).
    pub fn is_conflict(&self) -> bool {
        self.code == 409
    }

    /// 410: a watch's resourceVersion is too old; list again.
    pub fn is_gone(&self) -> bool {
        self.code == 410
    }

    /// 403.
    pub fn is_forbidden(&self) -> bool {
        self.code == 403
    }
}

/// The reason the API uses for a status code when it names none.
pub fn reason_of(code: u16) -> &'static str {
    match code {
        0 => "Unreachable",
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        406 => "NotAcceptable",
        409 => "Conflict",
        410 => "Expired",
        413 => "RequestEntityTooLarge",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        200..=299 => "",
        _ => "Unknown",
    }
}

impl From<kube::Error> for ClusterError {
    fn from(error: kube::Error) -> Self {
        match error {
            kube::Error::Api(status) => ClusterError::status(status.code, &status.reason, status.message),
            kube::Error::HyperError(e) if e.is_timeout() => ClusterError::timeout(e.to_string()),
            kube::Error::HyperError(e) => ClusterError::unreachable(e.to_string()),
            kube::Error::Service(e) => {
                let text = e.to_string();
                if text.contains("timed out") || text.contains("deadline") {
                    ClusterError::timeout(text)
                } else {
                    ClusterError::unreachable(text)
                }
            }
            other => ClusterError { code: 0, reason: "ClientError".into(), message: other.to_string() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_decisions() {
        let table = [
            (0, "Unreachable", true),
            (0, "Timeout", true),
            (429, "TooManyRequests", true),
            (500, "InternalError", true),
            (503, "ServiceUnavailable", true),
            (504, "Timeout", true),
            (500, "ServerTimeout", true),
            (400, "BadRequest", false),
            (403, "Forbidden", false),
            (404, "NotFound", false),
            (409, "Conflict", false),
            (409, "AlreadyExists", false),
            (410, "Expired", false),
            (422, "Invalid", false),
        ];
        for (code, reason, retryable) in table {
            let error = ClusterError::status(code, reason, "m");
            assert_eq!(error.retryable(), retryable, "{code} {reason}");
        }
    }

    #[test]
    fn keeps_code_and_reason() {
        let e = ClusterError::status(409, "", "the object has been modified");
        assert_eq!(e.reason, "Conflict");
        assert_eq!(e.to_string(), "the object has been modified (409 Conflict)");
        assert!(e.is_conflict() && !e.retryable());
        assert_eq!(ClusterError::timeout("no answer in 30s").to_string(), "no answer in 30s (Timeout)");
    }
}
