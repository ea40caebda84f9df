//! Applying to a real API server (the local control plane), plumb against
//! its peers measured in the same run on the same 1,000 ConfigMaps: the raw
//! limit of the API server (16 server-side applies in flight from one
//! client), Flux's apply engine (`benches/flux-ssa`, fluxcd/pkg/ssa driven
//! as kustomize-controller drives it), `kubectl apply --server-side` and
//! `kpt live apply`; for each, a cold apply, a reconcile with nothing
//! changed and one after one object changed (time and API requests). Then a
//! `plumb run` agent at 1,000, 10,000 and 50,000 objects in one app and at
//! 20 apps of 5,000: its first sync, its memory (per object too), and a
//! no-op commit's CPU time and requests. Prints Markdown tables
//! (docs/performance.md keeps the latest).
//!
//! Run: `cargo bench -p plumb --bench apply` (after `tests/setup.sh`; Go
//! builds the Flux peer, kpt is measured if installed).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::Api;
use kube::api::{Patch, PatchParams};
use plumb_testenv::ControlPlane;
use plumb_testenv::git::GitRepo;
use plumb_testenv::process::ManagedProcess;

#[path = "support/gobuild.rs"]
mod gobuild;
#[path = "support/peers.rs"]
mod peers;

const PLUMB: &str = env!("CARGO_BIN_EXE_plumb");
const COLD: usize = 1_000;
const MANY: usize = 10_000;
/// How long the agent is watched at rest (a poll interval of Flux's would re-apply everything).
const AT_REST: Duration = Duration::from_secs(5);

fn config_map(name: &str) -> serde_json::Value {
    serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}})
}

fn manifests(count: usize) -> String {
    (0..count)
        .map(|i| format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i}}}\ndata: {{k: v}}\n"))
        .collect()
}

async fn namespace(client: &kube::Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    api.patch(name, &PatchParams::apply("bench"), &Patch::Apply(&ns)).await.expect("namespace");
}

fn seconds(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64())
}

/// `(utime + stime)` of a process, in milliseconds.
fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields after the command name: utime is the 12th, stime the 13th.
    (ticks(11) + ticks(12)) * 1000.0 / 100.0
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn metric(port: u16, name: &str, filter: impl Fn(&str) -> bool) -> f64 {
    let body = plumb_testenv::http::get(port, "/metrics").map(|r| r.body).unwrap_or_default();
    body.lines()
        .filter(|l| l.starts_with(name) && filter(l))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

fn run_agent(repo: &Path, namespace: &str, kubeconfig: &Path, dir: &Path) -> (ManagedProcess, u16) {
    let port = plumb_testenv::ports::free_port().expect("port");
    let args = vec![
        "run".to_string(),
        format!("--repo={}", repo.display()),
        format!("--namespace={namespace}"),
        format!("--cache-dir={}", dir.join("cache").display()),
        "--interval=1h".into(),
        format!("--listen=127.0.0.1:{port}"),
        "--log=warn".into(),
    ];
    let env = [("KUBECONFIG", kubeconfig.as_os_str())];
    let process = ManagedProcess::spawn_with_env("plumb run", Path::new(PLUMB), &args, &env, &dir.join("plumb.log"))
        .expect("plumb run");
    (process, port)
}

/// Waits until every app of the agent reports `commit` as synced.
fn wait_synced(port: u16, commit: &str, agent: &mut ManagedProcess, timeout: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let status = plumb_testenv::http::get(port, "/api/v1/status").map(|r| r.body).unwrap_or_default();
        let status: serde_json::Value = serde_json::from_str(&status).unwrap_or_default();
        let apps = status["apps"].as_object();
        if apps.is_some_and(|a| !a.is_empty() && a.values().all(|app| app["commit"].as_str() == Some(commit))) {
            return started.elapsed();
        }
        assert!(agent.check_running().is_ok(), "the agent exited:\n{}", agent.log_tail(30));
        assert!(started.elapsed() < timeout, "not synced within {timeout:?}:\n{}", agent.log_tail(30));
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The raw limit of the API server: 16 server-side applies in flight from
/// one client, no dry-run, no inventory.
async fn raw_limit(client: &kube::Client) -> Duration {
    namespace(client, "raw").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "raw");
    let started = Instant::now();
    futures::stream::iter(0..COLD)
        .map(|i| {
            let api = api.clone();
            async move {
                let name = format!("cm-{i}");
                api.patch(&name, &PatchParams::apply("raw").force(), &Patch::Apply(&config_map(&name)))
                    .await
                    .expect("apply");
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    started.elapsed()
}

/// plumb after its cold `--once` run: an agent on the same repo, measured
/// at rest (its periodic poll finds no new commit), on a commit that
/// changes no object, and on a commit that changes `cm-0`.
fn plumb_reconciles(
    repo: &GitRepo,
    commit: &str,
    changed_text: &str,
    kubeconfig: &Path,
    work: &Path,
    cold: Duration,
) -> (peers::Measured, Option<u64>) {
    let dir = work.join("cold-agent");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let (mut agent, port) = run_agent(repo.path(), "plumb-cold-state", kubeconfig, &dir);
    wait_synced(port, commit, &mut agent, Duration::from_secs(120));
    let requests = |port: u16| metric(port, "plumb_api_requests_total{", |_| true) as u64;
    let before = requests(port);
    std::thread::sleep(AT_REST);
    let at_rest = requests(port) - before;
    let mut sync = |change: &dyn Fn()| {
        let before = requests(port);
        let started = Instant::now();
        change();
        let commit = repo.commit("bench").expect("commit");
        wait_synced(port, &commit, &mut agent, Duration::from_secs(120));
        peers::Cost { time: Some(started.elapsed()), requests: Some(requests(port) - before) }
    };
    let steady = sync(&|| repo.write("README.md", "a commit that changes no object\n").expect("write"));
    let changed = sync(&|| repo.write("app/cms.yaml", changed_text).expect("write"));
    agent.stop(Duration::from_secs(10));
    let cold = peers::Cost { time: Some(cold), requests: None };
    (peers::Measured::Costs { cold, steady, changed }, Some(at_rest))
}

fn cost(cost: &peers::Cost) -> String {
    let requests = cost.requests.map_or("requests not counted".into(), |n| format!("{n} requests"));
    cost.time.map_or(requests.clone(), |t| format!("{requests}, {} s", seconds(t)))
}

/// One table: cold apply against the raw limit, then what each tool's
/// reconciles cost.
fn print_reconciles(raw: Duration, tools: &[(&str, &(peers::Measured, Option<u64>))]) {
    println!("1,000 ConfigMaps, each tool in its own namespace, in one run (seconds; requests to the API server):\n");
    println!(
        "| tool | cold apply, s | / raw limit | reconcile with nothing changed | reconcile after one object changed |"
    );
    println!("|---|---:|---:|---|---|");
    println!("| raw limit: 16 server-side applies in flight, one client | {} | 1.0x | | |", seconds(raw));
    let ratio = |t: Duration| format!("{:.2}x", t.as_secs_f64() / raw.as_secs_f64());
    for (tool, (measured, at_rest)) in tools {
        match measured {
            peers::Measured::Costs { cold, steady, changed } => {
                let (cold_s, cold_ratio) = cold.time.map_or(("n/a".into(), "n/a".into()), |t| (seconds(t), ratio(t)));
                let steady = match at_rest {
                    Some(n) => format!(
                        "at rest: {n} requests in {} s; a commit changing no object: {}",
                        AT_REST.as_secs(),
                        cost(steady)
                    ),
                    None => format!("every interval: {}", cost(steady)),
                };
                println!("| {tool} | {cold_s} | {cold_ratio} | {steady} | {} |", cost(changed));
            }
            peers::Measured::Unavailable(reason) => println!("| {tool} | n/a | n/a | n/a: {reason} | |"),
        }
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let plane = ControlPlane::start().await.expect("the control plane (run tests/setup.sh first)");
    let client = plane.client().await.expect("client");
    let kubeconfig = plane.kubeconfig_path().to_path_buf();
    let work = tempfile::tempdir().expect("tempdir");

    // `PLUMB_BENCH=scale` (or `peers`) runs one part only.
    let part = std::env::var("PLUMB_BENCH").unwrap_or_default();
    if part != "scale" {
        peers_part(&client, &kubeconfig, work.path()).await;
    }
    if part != "peers" {
        scale_part(&client, &kubeconfig, work.path()).await;
    }
}

/// 1,000 objects: plumb against the raw limit and its peers.
async fn peers_part(client: &kube::Client, kubeconfig: &Path, work: &Path) {
    // 1. 1,000 ConfigMaps, each tool in its own namespace: a cold apply,
    // then a reconcile with nothing changed and one after cm-0 changed.
    let raw = raw_limit(client).await;
    let changed_text = manifests(COLD).replacen("data: {k: v}", "data: {k: changed}", 1);

    namespace(client, "plumb-cold-state").await;
    namespace(client, "plumb-cold").await;
    let repo = GitRepo::init(&work.join("cold")).expect("repo");
    repo.write("plumb.yaml", "apps:\n  - {name: cold, namespace: plumb-cold, path: app}\n").expect("write");
    repo.write("app/cms.yaml", manifests(COLD)).expect("write");
    let cold_commit = repo.commit("1,000 ConfigMaps").expect("commit");
    let started = Instant::now();
    let output = Command::new(PLUMB)
        .args(["run", "--once", "--namespace=plumb-cold-state", "--log=warn"])
        .arg(format!("--repo={}", repo.path().display()))
        .arg(format!("--cache-dir={}", work.join("cold-cache").display()))
        .arg(format!("--listen=127.0.0.1:{}", plumb_testenv::ports::free_port().expect("port")))
        .env("KUBECONFIG", kubeconfig)
        .output()
        .expect("plumb run --once");
    let plumb_cold = started.elapsed();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let plumb = plumb_reconciles(&repo, &cold_commit, &changed_text, kubeconfig, work, plumb_cold);

    namespace(client, "flux").await;
    let objects = work.join("flux.yaml");
    std::fs::write(&objects, manifests(COLD)).expect("write");
    let flux = (peers::flux(&objects, "flux", kubeconfig), None);

    namespace(client, "kubectl").await;
    let file = work.join("cms.yaml");
    std::fs::write(&file, manifests(COLD)).expect("write");
    let kubectl = (peers::kubectl(&file, &changed_text, "kubectl", kubeconfig), None);

    namespace(client, "kpt").await;
    let kpt_dir = work.join("kpt");
    std::fs::create_dir_all(&kpt_dir).expect("mkdir");
    let in_kpt = |text: &str| text.replace("metadata: {name:", "metadata: {namespace: kpt, name:");
    std::fs::write(kpt_dir.join("cms.yaml"), in_kpt(&manifests(COLD))).expect("write");
    let kpt = (peers::kpt(&kpt_dir, &in_kpt(&changed_text), kubeconfig), None);

    print_reconciles(
        raw,
        &[
            ("plumb run (fetch, render, dry-run, inventory, apply, health)", &plumb),
            ("Flux's engine: fluxcd/pkg/ssa v0.78.0 as kustomize-controller drives it", &flux),
            ("kubectl apply --server-side", &kubectl),
            ("kpt live apply", &kpt),
        ],
    );
}

/// The agent at scale.
async fn scale_part(client: &kube::Client, kubeconfig: &Path, work: &Path) {
    // 2. The agent at scale: one app of 1,000, 10,000 and 50,000 objects,
    // and 20 apps of 5,000: first sync, a no-op commit, memory.
    println!("\n`plumb run` at scale (release build, live cache on; a no-op commit changes no object):\n");
    println!(
        "| apps x objects | first sync s | no-op wall s | no-op CPU ms | no-op dry-runs | no-op writes (bookkeeping: inventory headers, history, events) | no-op requests | RSS after first sync MiB | RSS after no-op MiB | KiB per object |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    // `PLUMB_BENCH_SIZES=1x10000,20x5000` measures only those rows.
    let sizes: Vec<(usize, usize)> = match std::env::var("PLUMB_BENCH_SIZES") {
        Ok(list) => list
            .split(',')
            .filter_map(|size| {
                let (apps, per_app) = size.trim().split_once('x')?;
                Some((apps.parse().ok()?, per_app.parse().ok()?))
            })
            .collect(),
        Err(_) => vec![(1, 1_000), (1, MANY), (1, 50_000), (20, 5_000)],
    };
    for (apps, per_app) in sizes {
        let row = scale(client, kubeconfig, work, apps, per_app).await;
        println!("{row}");
    }
    println!(
        "\nTargets (DESIGN §9): no-op commit of 10,000 objects under 200 ms CPU and no write or dry-run; under 50 MiB RSS at 10,000 objects."
    );
}

/// One agent managing `apps` apps of `per_app` ConfigMaps: a Markdown row.
async fn scale(client: &kube::Client, kubeconfig: &Path, dir: &Path, apps: usize, per_app: usize) -> String {
    let label = format!("{apps}x{per_app}");
    let dir = dir.join(&label);
    let repo = GitRepo::init(&dir.join("repo")).expect("repo");
    let mut config = String::from("apps:\n");
    for app in 0..apps {
        let ns = format!("scale-{label}-{app}");
        namespace(client, &ns).await;
        config.push_str(&format!("  - {{name: app{app}, namespace: {ns}, path: app{app}}}\n"));
        for chunk in 0..per_app.div_ceil(1_000) {
            let docs: String = (chunk * 1_000..((chunk + 1) * 1_000).min(per_app))
                .map(|i| format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i}}}\ndata: {{k: v}}\n"))
                .collect();
            repo.write(&format!("app{app}/cms-{chunk}.yaml"), docs).expect("write");
        }
    }
    repo.write("plumb.yaml", config).expect("write");
    let state = format!("scale-{label}-state");
    namespace(client, &state).await;
    let first = repo.commit("objects").expect("commit");
    let (mut agent, port) = run_agent(repo.path(), &state, kubeconfig, &dir);
    let first_sync = wait_synced(port, &first, &mut agent, Duration::from_secs(1_800));
    std::thread::sleep(Duration::from_secs(2));
    let rss_after_first = rss_mib(agent.pid());
    let writes = |port: u16| {
        metric(port, "plumb_api_requests_total{", |l| {
            ["\"patch\"", "\"create\"", "\"update\"", "\"delete\""].iter().any(|v| l.contains(&format!("verb={v}")))
        })
    };
    let dry_runs = |port: u16| metric(port, "plumb_api_requests_total{", |l| l.contains("verb=\"dryrun-"));
    let (writes_before, dry_before, requests_before, cpu_before) =
        (writes(port), dry_runs(port), metric(port, "plumb_api_requests_total{", |_| true), cpu_ms(agent.pid()));
    repo.write("README.md", "a commit that changes no object\n").expect("write");
    let noop = repo.commit("no-op").expect("commit");
    let noop_sync = wait_synced(port, &noop, &mut agent, Duration::from_secs(600));
    std::thread::sleep(Duration::from_millis(500));
    let cpu = cpu_ms(agent.pid()) - cpu_before;
    // The ConfigMaps are managed objects, so a write to one would be an
    // apply; what writes remain are plumb's own bookkeeping.
    let writes_noop = writes(port) - writes_before;
    let dry_noop = dry_runs(port) - dry_before;
    let requests_noop = metric(port, "plumb_api_requests_total{", |_| true) - requests_before;
    let rss = rss_mib(agent.pid());
    agent.stop(Duration::from_secs(10));
    let objects = (apps * per_app) as f64;
    format!(
        "| {apps} x {per_app} | {} | {} | {cpu:.0} | {dry_noop:.0} | {writes_noop:.0} | {requests_noop:.0} | {rss_after_first:.1} | {rss:.1} | {:.2} |",
        seconds(first_sync),
        seconds(noop_sync),
        rss * 1024.0 / objects
    )
}
