//! Headless Chromium for tests of web pages (Debian's `chromium` and
//! `chromium-driver`), driven through the WebDriver protocol (JSON over
//! HTTP/1.1, with hyper's client).
//!
//! Chromium is started here, headless, with a fresh profile and no
//! background networking, sync or component updates, every host name but
//! the loopback unresolvable (pages must work offline), and its DevTools
//! port on a free port; chromedriver attaches to it. Both are stopped by
//! pid on drop. Their profile and logs live in a `plumb-testenv-browser-*`
//! folder, so `tests/run.sh` notices a browser left running.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use crate::Error;
use crate::process::ManagedProcess;

/// A headless Chromium with a WebDriver session on it.
pub struct Browser {
    session: String,
    driver_port: u16,
    driver: ManagedProcess,
    chromium: ManagedProcess,
    dir: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Chromium and chromedriver are stopped by pid; the session goes with them.
        self.driver.stop(Duration::from_secs(5));
        self.chromium.stop(Duration::from_secs(5));
    }
}

fn not_ready(what: &str, reason: impl Into<String>) -> Error {
    Error::NotReady { what: what.into(), reason: reason.into() }
}

/// The Chromium binary: Debian's, or `chromium` on the PATH.
fn chromium_binary() -> Result<PathBuf, Error> {
    // /usr/bin/chromium is a launcher script; the browser itself is here.
    let debian = Path::new("/usr/lib/chromium/chromium");
    if debian.is_file() {
        return Ok(debian.to_path_buf());
    }
    crate::binaries::find_in_path("chromium").ok_or_else(|| Error::MissingBinary {
        name: "chromium".into(),
        hint: "install Debian's chromium and chromium-driver (tests/setup.sh does)".into(),
    })
}

impl Browser {
    /// Starts Chromium with a window of `width` x `height` and a WebDriver session on it.
    pub async fn start(width: u32, height: u32) -> Result<Self, Error> {
        let io = |what: &str| {
            let what = what.to_string();
            move |source| Error::Io { what, source }
        };
        let dir =
            tempfile::Builder::new().prefix("plumb-testenv-browser-").tempdir().map_err(io("make a browser folder"))?;
        let profile = dir.path().join("profile");
        let args: Vec<String> = vec![
            "--headless=new".into(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            "--disable-dev-shm-usage".into(),
            "--hide-scrollbars".into(),
            "--mute-audio".into(),
            // Offline: only the loopback resolves.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1".into(),
            format!("--user-data-dir={}", profile.display()),
            format!("--window-size={width},{height}"),
            "--remote-debugging-address=127.0.0.1".into(),
            "--remote-debugging-port=0".into(),
            "about:blank".into(),
        ];
        let mut chromium =
            ManagedProcess::spawn("chromium", &chromium_binary()?, &args, &dir.path().join("chromium.log"))?;
        // Chromium writes the port it picked into the profile.
        let port_file = profile.join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(30);
        let devtools_port = loop {
            chromium.check_running()?;
            let port =
                std::fs::read_to_string(&port_file).ok().and_then(|t| t.lines().next()?.trim().parse::<u16>().ok());
            if let Some(port) = port {
                break port;
            }
            if Instant::now() > deadline {
                return Err(not_ready("chromium", format!("no DevTools port after 30 s:\n{}", chromium.log_tail(20))));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let driver_binary = crate::binaries::find_in_path("chromedriver").ok_or_else(|| Error::MissingBinary {
            name: "chromedriver".into(),
            hint: "install Debian's chromium-driver (tests/setup.sh does)".into(),
        })?;
        let driver_port = crate::ports::free_port()?;
        let driver_args = vec![
            format!("--port={driver_port}"),
            "--allowed-ips=127.0.0.1".into(),
            format!("--log-path={}", dir.path().join("chromedriver.log").display()),
        ];
        let mut driver =
            ManagedProcess::spawn("chromedriver", &driver_binary, &driver_args, &dir.path().join("chromedriver.out"))?;
        driver.wait_for_port(driver_port, Duration::from_secs(30)).await?;
        let mut browser = Self { session: String::new(), driver_port, driver, chromium, dir };
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "goog:chromeOptions": {"debuggerAddress": format!("127.0.0.1:{devtools_port}")},
        }}});
        let created = browser.call("POST", "/session", Some(&capabilities)).await?;
        browser.session = created["sessionId"]
            .as_str()
            .ok_or_else(|| not_ready("chromedriver", format!("no session id in {created}")))?
            .to_string();
        Ok(browser)
    }

    /// Chromium's process id.
    pub fn pid(&self) -> u32 {
        self.chromium.pid()
    }

    /// The browser's folder (profile and logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// One WebDriver command: `method` on `/session/{id}{path}` (or on
    /// `path` itself before the session exists); its `value`.
    async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, Error> {
        let path = if self.session.is_empty() { path.to_string() } else { format!("/session/{}{path}", self.session) };
        let what = format!("WebDriver {method} {path}");
        let failed = |reason: String| not_ready(&what, reason);
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", self.driver_port))
            .await
            .map_err(|source| Error::Io { what: what.clone(), source })?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| failed(e.to_string()))?;
        tokio::spawn(connection);
        let request = hyper::Request::builder()
            .method(method)
            .uri(&path)
            .header("host", format!("127.0.0.1:{}", self.driver_port))
            .header("content-type", "application/json; charset=utf-8")
            .body(Full::new(Bytes::from(body.map(Value::to_string).unwrap_or_default())))
            .map_err(|e| failed(e.to_string()))?;
        let response = sender.send_request(request).await.map_err(|e| failed(e.to_string()))?;
        let status = response.status();
        let bytes = response.into_body().collect().await.map_err(|e| failed(e.to_string()))?.to_bytes();
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            return Err(failed(format!("{status} {}", value["value"]["message"].as_str().unwrap_or(&text))));
        }
        Ok(value["value"].clone())
    }

    /// Loads `url` and waits until it has loaded.
    pub async fn goto(&self, url: &str) -> Result<(), Error> {
        self.call("POST", "/url", Some(&json!({ "url": url }))).await.map(|_| ())
    }

    /// The URL shown.
    pub async fn url(&self) -> Result<String, Error> {
        Ok(self.call("GET", "/url", None).await?.as_str().unwrap_or_default().to_string())
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page; its return value.
    pub async fn execute(&self, script: &str, args: Value) -> Result<Value, Error> {
        self.call("POST", "/execute/sync", Some(&json!({ "script": script, "args": args }))).await
    }

    /// The page's DOM as HTML now.
    pub async fn source(&self) -> Result<String, Error> {
        Ok(self.call("GET", "/source", None).await?.as_str().unwrap_or_default().to_string())
    }

    /// A PNG screenshot of the window.
    pub async fn screenshot(&self) -> Result<Vec<u8>, Error> {
        let encoded = self.call("GET", "/screenshot", None).await?;
        STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .map_err(|e| not_ready("a screenshot", format!("not base64: {e}")))
    }

    /// Polls `script` every 50 ms until it returns something other than
    /// `null` or `false`, for at most `timeout`; the value and how long it took.
    pub async fn wait_for(&self, script: &str, timeout: Duration) -> Result<(Value, Duration), Error> {
        let started = Instant::now();
        loop {
            let value = self.execute(script, json!([])).await?;
            if !matches!(value, Value::Null | Value::Bool(false)) {
                return Ok((value, started.elapsed()));
            }
            if started.elapsed() > timeout {
                return Err(not_ready(&format!("the page ({script})"), format!("not true within {timeout:?}")));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
