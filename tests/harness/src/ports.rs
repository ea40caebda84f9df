//! Free loopback ports picked at run time.

use std::net::TcpListener;

use crate::Error;

/// Asks the kernel for a free port on 127.0.0.1. The port is released before
/// returning, so a caller that loses the race retries with a fresh one.
pub fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .map_err(|source| Error::Io { what: "bind a free port on 127.0.0.1".into(), source })?;
    let port = listener.local_addr().map_err(|source| Error::Io { what: "read a bound port".into(), source })?.port();
    Ok(port)
}
