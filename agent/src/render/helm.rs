//! Chart apps: a `plumb.yaml` app with `chart:` rendered into objects.
//!
//! The chart comes from the commit (a directory or `.tgz`) or, pinned in
//! `plumb.lock`, from a Helm repository ([`super::remote`]). The app's
//! values files are layered in order; the release is named after the app in
//! its namespace; `.Capabilities` are the connected cluster's. Output:
//! `crds/` first, then every rendered manifest except `NOTES.txt`, chart
//! tests (`templates/tests/`, `helm.sh/hook: test`) and empty documents.
//! Hook annotations stay on the objects, where they order the waves.
//! Renders are cached by chart digest, values, release and capabilities.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::chart::{self, Capabilities, Chart, ChartError, Release};
use super::config::{App, CONFIG_FILE, ChartSource};
use super::{RenderError, RenderedObject, plain, values_file};
use crate::source::Tree;
use crate::source::tree::Subdir;
use plumb_gotmpl::Clock;

/// Everything a chart render depends on besides the commit.
#[derive(Clone, Default)]
pub struct ChartEnv {
    /// What `.Capabilities` says.
    pub capabilities: Capabilities,
    /// Charts pinned in `plumb.lock`, fetched and verified.
    pub remote: Option<Arc<super::remote::RemoteCharts>>,
}

/// Renders already done, by [`render_key`].
static CACHE: Mutex<Option<HashMap<String, Vec<RenderedObject>>>> = Mutex::new(None);

/// Cached renders kept; older entries are dropped wholesale when full.
const CACHE_ENTRIES: usize = 64;

/// Renders a chart app.
pub fn render_chart_app(
    tree: &Arc<dyn Tree>,
    app: &App,
    source: &ChartSource,
    env: &ChartEnv,
) -> Result<Vec<RenderedObject>, RenderError> {
    let error = |reason: String| RenderError::App { file: CONFIG_FILE.into(), app: app.name.clone(), reason };
    let (loaded, origin) = load_chart(tree, source, env).map_err(|e| error(e.to_string()))?;
    let mut layers = Vec::new();
    for file in &app.values {
        layers.push(values_file(tree.as_ref(), file)?);
    }
    let user = chart::values::layer(&layers);
    let release = Release {
        name: app.name.clone(),
        namespace: app.namespace.clone().unwrap_or_else(|| "default".into()),
        revision: 1,
        is_install: true,
    };
    let key = render_key(&loaded, &user, &release, &env.capabilities);
    if let Some(hit) = CACHE.lock().ok().and_then(|c| c.as_ref().and_then(|c| c.get(&key).cloned())) {
        return Ok(hit);
    }
    let (prepared, values) = chart::values::prepare(loaded, &user);
    chart::schema::validate(&prepared, &values).map_err(|e| error(e.to_string()))?;
    // Deeply nested includes recurse; a big stack keeps that off the
    // caller's (tokio's blocking threads have 2 MiB).
    let rendered = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("chart-render".into())
            .stack_size(64 << 20)
            .spawn_scoped(scope, || {
                chart::render(&prepared, &values, &release, &env.capabilities, Clock::system())
                    .map_err(|e| e.to_string())
            })
            .map_err(|e| error(format!("cannot start the render thread: {e}")))?
            .join()
            .map_err(|_| error("the chart render panicked".into()))?
            .map_err(|e| error(format!("{origin}: {e}")))
    })?;
    let objects = objects(&prepared, &rendered)?;
    if let Ok(mut cache) = CACHE.lock() {
        let cache = cache.get_or_insert_with(HashMap::new);
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(key, objects.clone());
    }
    Ok(objects)
}

fn load_chart(tree: &Arc<dyn Tree>, source: &ChartSource, env: &ChartEnv) -> Result<(Chart, String), ChartError> {
    if let Some(path) = &source.path {
        let chart = if path.ends_with(".tgz") || path.ends_with(".tar.gz") {
            let bytes = tree.read(path).map_err(|e| ChartError::Load { chart: path.clone(), reason: e.to_string() })?;
            chart::archive::load(path, &bytes)?
        } else {
            let dir = Subdir::new(tree.clone(), path)
                .map_err(|e| ChartError::Load { chart: path.clone(), reason: e.to_string() })?;
            let mut chart = Chart::from_tree(&dir, "")?;
            chart.origin = path.clone();
            chart
        };
        return Ok((chart, path.clone()));
    }
    let (Some(repo), Some(name), Some(version)) = (&source.repo, &source.name, &source.version) else {
        return Err(ChartError::Load {
            chart: "(chart)".into(),
            reason: "a chart needs either `path` or `repo`, `name` and `version`".into(),
        });
    };
    let Some(remote) = &env.remote else {
        return Err(ChartError::Load {
            chart: format!("{name} {version} from {repo}"),
            reason: "remote charts are not available here (no chart cache configured)".into(),
        });
    };
    let chart = remote.load(tree.as_ref(), repo, name, version)?;
    Ok((chart, format!("{name}-{version}")))
}

/// The cache key: the chart's files, the user's values, the release and
/// the capabilities.
fn render_key(chart: &Chart, user: &serde_json::Value, release: &Release, caps: &Capabilities) -> String {
    let mut hasher = Sha256::new();
    hash_chart(&mut hasher, chart);
    hasher.update(user.to_string());
    hasher.update(format!(
        "{}\0{}\0{}\0{}",
        release.name,
        release.namespace,
        caps.kube_version,
        caps.api_versions.join(",")
    ));
    format!("{:x}", hasher.finalize())
}

fn hash_chart(hasher: &mut Sha256, chart: &Chart) {
    hasher.update(chart.metadata.to_string());
    hasher.update(chart.values.to_string());
    hasher.update(chart.schema.as_ref().map(|s| s.to_string()).unwrap_or_default());
    for (path, source) in &chart.templates {
        hasher.update(path);
        hasher.update(source);
    }
    for (path, data) in chart.files.iter() {
        hasher.update(path);
        hasher.update(data);
    }
    for sub in &chart.dependencies {
        hash_chart(hasher, sub);
    }
}

/// Whether a rendered file is applied: not NOTES.txt, not a chart test.
fn applied(path: &str) -> bool {
    !path.ends_with("NOTES.txt") && !path.split('/').collect::<Vec<_>>().windows(2).any(|w| w == ["templates", "tests"])
}

fn objects(chart: &Chart, rendered: &BTreeMap<String, String>) -> Result<Vec<RenderedObject>, RenderError> {
    let mut objects = Vec::new();
    collect_crds(chart, chart.name(), &mut objects)?;
    for (path, text) in rendered {
        if !applied(path) || text.trim().is_empty() {
            continue;
        }
        for object in plain::parse_chart_output(path, text)? {
            let hook = object.manifest["metadata"]["annotations"]["helm.sh/hook"].as_str().unwrap_or("");
            if hook.split(',').any(|h| h.trim().starts_with("test")) {
                continue;
            }
            objects.push(object);
        }
    }
    Ok(objects)
}

fn collect_crds(chart: &Chart, id: &str, out: &mut Vec<RenderedObject>) -> Result<(), RenderError> {
    for (path, data) in chart.crds() {
        let text = String::from_utf8_lossy(data);
        out.extend(plain::parse_chart_output(&format!("{id}/{path}"), &text)?);
    }
    for sub in &chart.dependencies {
        collect_crds(sub, &format!("{id}/charts/{}", sub.name()), out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_and_tests_are_not_applied() {
        assert!(applied("app/templates/deployment.yaml"));
        assert!(!applied("app/templates/NOTES.txt"));
        assert!(!applied("app/templates/tests/test-connection.yaml"));
        assert!(!applied("app/charts/sub/templates/tests/t.yaml"));
        assert!(applied("app/templates/testsuite.yaml"));
    }
}
