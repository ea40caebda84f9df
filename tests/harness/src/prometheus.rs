//! Debian's Prometheus for tests: scrapes given targets every second,
//! listens on 127.0.0.1 (a random port), keeps its data in a temporary
//! folder, and is stopped by pid on drop.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::Error;
use crate::http::{encode, get};
use crate::ports::free_port;
use crate::process::ManagedProcess;

/// A running Prometheus.
pub struct Prometheus {
    process: ManagedProcess,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` (`host:port`) every second.
    pub async fn start(targets: &[String]) -> Result<Self, Error> {
        let dir = tempfile::Builder::new()
            .prefix("plumb-testenv-prometheus-")
            .tempdir()
            .map_err(|source| Error::Io { what: "create the Prometheus folder".into(), source })?;
        let config = dir.path().join("prometheus.yml");
        let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        crate::certs::write(
            &config,
            &format!(
                "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nscrape_configs:\n  - job_name: plumb\n    static_configs:\n      - targets: [{}]\n",
                targets.join(", ")
            ),
        )?;
        let port = free_port()?;
        let binary = crate::binaries::find_in_path("prometheus").ok_or_else(|| Error::MissingBinary {
            name: "prometheus".into(),
            hint: "install Debian's prometheus package (tests/setup.sh does)".into(),
        })?;
        let args = vec![
            format!("--config.file={}", config.display()),
            format!("--storage.tsdb.path={}", dir.path().join("data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--log.level=warn".into(),
        ];
        let mut process = ManagedProcess::spawn("prometheus", &binary, &args, &dir.path().join("prometheus.log"))?;
        process.wait_for_port(port, Duration::from_secs(30)).await?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while !get(port, "/-/ready").is_ok_and(|r| r.status == 200) {
            process.check_running()?;
            if Instant::now() > deadline {
                return Err(Error::NotReady {
                    what: "prometheus".into(),
                    reason: "/-/ready never answered 200".into(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Self { process, port, _dir: dir })
    }

    /// The pid.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// An instant query: each series' labels and value.
    pub fn query(&self, promql: &str) -> Result<Vec<(Value, f64)>, Error> {
        let response = get(self.port, &format!("/api/v1/query?query={}", encode(promql)))?;
        let parsed: Value = serde_json::from_str(&response.body).unwrap_or_default();
        if parsed["status"] != "success" {
            return Err(Error::NotReady { what: format!("query {promql}"), reason: response.body });
        }
        Ok(parsed["data"]["result"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| (r["metric"].clone(), r["value"][1].as_str().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)))
            .collect())
    }

    /// Waits until `promql` returns at least one series and `check` holds
    /// for the first value; returns that value.
    pub async fn wait_for(&self, promql: &str, timeout: Duration, check: impl Fn(f64) -> bool) -> Result<f64, Error> {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        loop {
            if let Ok(result) = self.query(promql)
                && let Some((_, value)) = result.first()
            {
                if check(*value) {
                    return Ok(*value);
                }
                last = Some(*value);
            }
            if Instant::now() > deadline {
                return Err(Error::NotReady {
                    what: format!("PromQL {promql}"),
                    reason: format!("last value {last:?}"),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits until `promql` returns no series.
    pub async fn wait_for_absent(&self, promql: &str, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.query(promql).is_ok_and(|r| r.is_empty()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::NotReady {
                    what: format!("PromQL {promql}"),
                    reason: "series still present".into(),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
