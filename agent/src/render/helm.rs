//! Chart apps: a `plumb.yaml` app with `chart:` rendered into objects.
//!
//! The chart comes from the commit (a directory or `.tgz`) or, pinned in
//! `plumb.lock`, from a Helm repository ([`super::remote`]). The app's
//! values files are layered in order; the release is named after the app in
//! its namespace; `.Capabilities` are the connected cluster's. Output:
//! `crds/` first, then every rendered manifest except `NOTES.txt`, chart
//! tests (`templates/tests/`, `helm.sh/hook: test`) and empty documents.
//! Hook annotations stay on the objects, where they order the waves.
//! Renders are cached by chart digest, values, release and capabilities,
//! in memory and in the cache directory ([`super::cache`]), and reused while
//! what they looked up in the cluster is unchanged. `lookup` reads the live
//! cluster through [`ChartEnv::lookup`] ([`super::lookup`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::cache;
use super::chart::manifest::HookKind;
use super::chart::{self, Capabilities, Chart, ChartError, Release};
use super::config::{App, CONFIG_FILE, ChartSource};
use super::lookup::{Lookup, Recorder};
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
    /// What `lookup` reads (`None`: empty, as offline).
    pub lookup: Option<Arc<dyn Lookup>>,
    /// Where renders are kept across restarts ([`super::cache`]; `None`: in memory only).
    pub render_cache: Option<PathBuf>,
}

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
    render_cached(loaded, &user, &release, env).map_err(|e| match e {
        ChartRenderError::Chart(e) => error(format!("{origin}: {e}")),
        ChartRenderError::Render(e) => e,
    })
}

/// Renders a loaded chart through the render cache and `lookup` of `env`:
/// a kept render is reused while every lookup it made answers the same.
fn render_cached(
    loaded: Chart,
    user: &serde_json::Value,
    release: &Release,
    env: &ChartEnv,
) -> Result<Vec<RenderedObject>, ChartRenderError> {
    let key = render_key(&loaded, user, release, &env.capabilities);
    let dir = env.render_cache.as_deref();
    if let Some(hit) = cache::get(dir, &key) {
        if Recorder::unchanged(env.lookup.as_ref(), &hit.looked) {
            return Ok(hit.objects);
        }
        cache::forget(dir, &key);
    }
    let recorder = Arc::new(Recorder::new(env.lookup.clone()));
    let objects = render_objects_with_lookup(loaded, user, release, &env.capabilities, Some(recorder.clone()))?;
    cache::put(dir, &key, &cache::Entry { objects: objects.clone(), looked: recorder.looked() });
    Ok(objects)
}

/// Renders a loaded chart for a kustomization's `helmCharts:` entry, as
/// chart apps are rendered; the chart's `crds/` files only with
/// `include_crds` (kustomize's `includeCRDs`).
pub fn render_loaded(
    loaded: Chart,
    origin: &str,
    user: &serde_json::Value,
    release: &Release,
    env: &ChartEnv,
    include_crds: bool,
) -> Result<Vec<RenderedObject>, String> {
    let objects = render_cached(loaded, user, release, env).map_err(|e| match e {
        ChartRenderError::Chart(e) => format!("{origin}: {e}"),
        ChartRenderError::Render(e) => e.to_string(),
    })?;
    Ok(objects.into_iter().filter(|o| include_crds || !from_crds_folder(&o.origin)).collect())
}

/// True for an object read from a chart's `crds/` folder (origins
/// `<chart>[/charts/<sub>]/crds/<file>`; templates are under `templates/`).
fn from_crds_folder(origin: &str) -> bool {
    let segments: Vec<&str> = origin.split('/').collect();
    segments.iter().position(|s| *s == "crds").is_some_and(|i| !segments[..i].contains(&"templates"))
}

/// Why [`render_objects`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ChartRenderError {
    /// The chart cannot be rendered (values, schema, templates).
    #[error(transparent)]
    Chart(#[from] ChartError),
    /// Its output is not a set of Kubernetes objects.
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// Renders a loaded chart with the user's values for a release: the
/// objects Helm's install applies ([`objects`]).
pub fn render_objects(
    loaded: Chart,
    user: &serde_json::Value,
    release: &Release,
    capabilities: &Capabilities,
) -> Result<Vec<RenderedObject>, ChartRenderError> {
    render_objects_with_lookup(loaded, user, release, capabilities, None)
}

/// [`render_objects`] with `lookup` reading through `lookup`.
pub fn render_objects_with_lookup(
    loaded: Chart,
    user: &serde_json::Value,
    release: &Release,
    capabilities: &Capabilities,
    lookup: Option<Arc<dyn Lookup>>,
) -> Result<Vec<RenderedObject>, ChartRenderError> {
    let missing = loaded.missing_dependencies();
    if !missing.is_empty() {
        return Err(ChartError::MissingDependencies(missing).into());
    }
    let (prepared, values) = chart::values::prepare(loaded, user);
    chart::schema::validate(&prepared, &values)?;
    // Deeply nested includes recurse; a big stack keeps that off the
    // caller's (tokio's blocking threads have 2 MiB).
    let rendered = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("chart-render".into())
            .stack_size(64 << 20)
            .spawn_scoped(scope, || {
                chart::render_with_lookup(&prepared, &values, release, capabilities, Clock::system(), lookup)
            })
            .map_err(|e| ChartError::Template(format!("cannot start the render thread: {e}")))?
            .join()
            .map_err(|_| ChartError::Template("the chart render panicked".into()))?
    })?;
    Ok(objects(&prepared, &rendered)?)
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

/// Whether a rendered file is applied: not NOTES.txt (chart tests are
/// told by their hook annotation, wherever they are, as Helm tells them).
fn applied(path: &str) -> bool {
    !path.ends_with("NOTES.txt")
}

/// The objects Helm's install applies from a render: `crds/` first, then
/// each template's documents as the release manifest and its hooks hold
/// them ([`chart::manifest`]), without chart tests and hooks Helm skips.
pub fn objects(chart: &Chart, rendered: &BTreeMap<String, String>) -> Result<Vec<RenderedObject>, RenderError> {
    let mut objects = Vec::new();
    collect_crds(chart, chart.name(), &mut objects)?;
    for (path, text) in rendered {
        if !applied(path) || text.trim().is_empty() {
            continue;
        }
        let documents = chart::manifest::split(text);
        let several = documents.len() > 1;
        for (n, document) in documents.iter().enumerate() {
            let origin = if several { format!("{path}#{}", n + 1) } else { path.clone() };
            let parsed = plain::parse_chart_output(&origin, &chart::manifest::manifest_text(document))?;
            let hook = parsed.first().and_then(|o| o.manifest["metadata"]["annotations"]["helm.sh/hook"].as_str());
            match chart::manifest::hook_kind(hook) {
                HookKind::None => objects.extend(parsed),
                HookKind::Unknown => {}
                // Tests, and hooks of delete or rollback only, never run on
                // an install or upgrade (which is what every sync is).
                HookKind::Events(events) if !chart::manifest::runs_on_sync(&events) => {}
                // A hook is applied from its document as split, without
                // the release manifest's newline.
                HookKind::Events(_) => objects.extend(plain::parse_chart_output(&origin, document)?),
            }
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
    fn crds_folder_objects_are_told_from_templates() {
        assert!(from_crds_folder("app/crds/widgets.yaml"));
        assert!(from_crds_folder("app/charts/sub/crds/widgets.yaml#2"));
        assert!(!from_crds_folder("app/templates/crds/widgets.yaml"));
        assert!(!from_crds_folder("app/templates/deployment.yaml"));
    }

    #[test]
    fn notes_are_not_applied() {
        assert!(applied("app/templates/deployment.yaml"));
        assert!(!applied("app/templates/NOTES.txt"));
        assert!(applied("app/templates/tests/plain.yaml"));
    }
}
