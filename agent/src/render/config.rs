//! `plumb.yaml`: the apps of a config repo, parsed and validated.
//!
//! Errors name the file, the app and the field, and say what to change;
//! YAML errors carry the line and column.

use std::collections::HashMap;

use serde::Deserialize;

use crate::plan::graph::topo_order;

/// The config file's name at the root of the watched path.
pub const CONFIG_FILE: &str = "plumb.yaml";

/// The parsed `plumb.yaml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// The apps, in file order.
    pub apps: Vec<App>,
    /// Apps removed from `apps` whose objects stay, let go: plumb drops its
    /// label from them instead of pruning them.
    #[serde(default)]
    pub orphan: Vec<String>,
    /// Removing apps may prune more than half of everything this instance
    /// manages (or all of it) in one commit.
    #[serde(default)]
    pub allow_large_prune: bool,
}

/// What an app syncs from: plain manifests or a Helm chart.
#[derive(Debug, Clone, PartialEq)]
pub enum AppSource {
    /// A directory of YAML/JSON manifests, relative to the repo root.
    Path(String),
    /// A Helm chart.
    Chart(ChartSource),
}

/// One app of `plumb.yaml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct App {
    /// Name: a DNS-1123 label, the value of the `plumb.dev/app` label.
    pub name: String,
    /// Default namespace for namespaced objects without one.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Directory of plain manifests (exactly one of `path` and `chart`).
    #[serde(default)]
    pub path: Option<String>,
    /// Helm chart (exactly one of `path` and `chart`).
    #[serde(default)]
    pub chart: Option<ChartSource>,
    /// Values files for a chart, layered in order.
    #[serde(default)]
    pub values: Vec<String>,
    /// Apps that must be synced and healthy first.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Enforce or report.
    #[serde(default)]
    pub mode: AppMode,
    /// Prune objects that left Git.
    #[serde(default = "yes")]
    pub prune: bool,
    /// Refuse to prune more than this share of the app in one sync...
    #[serde(default = "fifty")]
    pub prune_limit_percent: u32,
    /// ...unless this is set.
    #[serde(default)]
    pub allow_large_prune: bool,
    /// CustomResourceDefinitions that leave Git are deleted (and with them
    /// every object of their kinds, anywhere in the cluster).
    #[serde(default, rename = "pruneCRDs")]
    pub prune_crds: bool,
    /// Namespaces that leave Git are deleted even when they hold objects
    /// the app does not own.
    #[serde(default)]
    pub prune_non_empty_namespaces: bool,
    /// How long each wave of this app may take to become healthy (`5m`);
    /// the agent's `--health-timeout` when unset.
    #[serde(default)]
    pub health_timeout: Option<String>,
}

fn yes() -> bool {
    true
}

fn fifty() -> u32 {
    50
}

/// A chart: vendored in the repo, or pinned in a Helm repository.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChartSource {
    /// Chart directory or `.tgz` in the repo.
    #[serde(default)]
    pub path: Option<String>,
    /// Helm repository URL.
    #[serde(default)]
    pub repo: Option<String>,
    /// Chart name in the repository.
    #[serde(default)]
    pub name: Option<String>,
    /// Exact version (no ranges).
    #[serde(default)]
    pub version: Option<String>,
}

/// `enforce` (correct drift) or `report` (never touch).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppMode {
    /// Apply, correct drift, prune.
    #[default]
    Enforce,
    /// Plan and report only.
    Report,
}

impl App {
    /// The app's health timeout, if it sets one (validated by [`parse`]).
    pub fn health_timeout(&self) -> Option<std::time::Duration> {
        self.health_timeout.as_deref().and_then(|t| crate::duration::parse_duration(t).ok())
    }

    /// Where the app's manifests come from.
    pub fn source(&self) -> AppSource {
        match (&self.path, &self.chart) {
            (Some(path), _) => AppSource::Path(path.clone()),
            (None, Some(chart)) => AppSource::Chart(chart.clone()),
            // validate() rejects apps with neither.
            (None, None) => AppSource::Path(String::new()),
        }
    }
}

/// A problem in `plumb.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not valid YAML, or a field of the wrong type or an unknown field.
    #[error("{file}: {reason}")]
    Syntax {
        /// The file.
        file: String,
        /// The parser's message, with line and column.
        reason: String,
    },
    /// A field of one app is invalid.
    #[error("{file}: app {app:?}: {field}: {problem}")]
    Field {
        /// The file.
        file: String,
        /// The app.
        app: String,
        /// The field.
        field: String,
        /// What is wrong and what to do.
        problem: String,
    },
    /// Apps depend on each other in a circle.
    #[error("{file}: apps depend on each other in a cycle: {}; remove one dependsOn", cycle.join(" -> "))]
    Cycle {
        /// The file.
        file: String,
        /// The apps, the first repeated at the end.
        cycle: Vec<String>,
    },
}

/// True for a DNS-1123 label: lower-case alphanumerics and '-', at most 63,
/// starting and ending alphanumeric.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// True for a relative path that stays inside the repository.
fn is_repo_path(p: &str) -> bool {
    !p.is_empty() && !p.starts_with('/') && !p.split('/').any(|c| c == "..")
}

/// Parses and validates `text` (the contents of `file`).
pub fn parse(file: &str, text: &str) -> Result<Config, ConfigError> {
    let mut options = serde_saphyr::Options::default();
    super::yaml11::bound(&mut options, text.len());
    let config: Config = serde_saphyr::from_str_with_options(text, options)
        .map_err(|e| ConfigError::Syntax { file: file.to_string(), reason: super::yaml_error(&e) })?;
    validate(file, &config)?;
    Ok(config)
}

fn validate(file: &str, config: &Config) -> Result<(), ConfigError> {
    let field = |app: &App, field: &str, problem: String| ConfigError::Field {
        file: file.to_string(),
        app: app.name.clone(),
        field: field.to_string(),
        problem,
    };
    if let Some(bad) = config.orphan.iter().find(|o| config.apps.iter().any(|a| &a.name == *o)) {
        return Err(ConfigError::Syntax {
            file: file.to_string(),
            reason: format!("orphan: app {bad:?} is still in apps; orphan lists apps removed from apps"),
        });
    }
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, app) in config.apps.iter().enumerate() {
        if !is_dns_label(&app.name) || app.name.len() > 46 {
            return Err(field(
                app,
                "name",
                "must be a DNS-1123 label of at most 46 characters (lower-case letters, digits, '-')".into(),
            ));
        }
        if index.insert(&app.name, i).is_some() {
            return Err(field(app, "name", "is used by another app; app names must be unique".into()));
        }
        if let Some(ns) = &app.namespace
            && !is_dns_label(ns)
        {
            return Err(field(app, "namespace", format!("{ns:?} is not a valid namespace name (DNS-1123 label)")));
        }
        match (&app.path, &app.chart) {
            (Some(_), Some(_)) => return Err(field(app, "path", "set either path or chart, not both".into())),
            (None, None) => return Err(field(app, "path", "set path (plain manifests) or chart".into())),
            (Some(p), None) if !is_repo_path(p) => {
                return Err(field(app, "path", format!("{p:?} must be a relative path inside the repository")));
            }
            (None, Some(chart)) => validate_chart(app, chart, &field)?,
            _ => {}
        }
        if app.path.is_some() && !app.values.is_empty() {
            return Err(field(app, "values", "values files apply to charts only".into()));
        }
        if let Some(bad) = app.values.iter().find(|v| !is_repo_path(v)) {
            return Err(field(app, "values", format!("{bad:?} must be a relative path inside the repository")));
        }
        if let Some(Err(problem)) = app.health_timeout.as_deref().map(crate::duration::parse_duration) {
            return Err(field(app, "healthTimeout", problem));
        }
        if app.prune_limit_percent > 100 {
            return Err(field(app, "pruneLimitPercent", "must be between 0 and 100".into()));
        }
    }
    let mut deps = Vec::with_capacity(config.apps.len());
    for app in &config.apps {
        let mut d = Vec::new();
        for dep in &app.depends_on {
            match index.get(dep.as_str()) {
                Some(&i) => d.push(i),
                None => return Err(field(app, "dependsOn", format!("{dep:?} is not an app in this file"))),
            }
        }
        deps.push(d);
    }
    topo_order(&deps).map(|_| ()).map_err(|cycle| ConfigError::Cycle {
        file: file.to_string(),
        cycle: cycle.iter().map(|&i| config.apps[i].name.clone()).collect(),
    })
}

fn validate_chart(
    app: &App,
    chart: &ChartSource,
    field: &impl Fn(&App, &str, String) -> ConfigError,
) -> Result<(), ConfigError> {
    match (&chart.path, &chart.repo, &chart.name, &chart.version) {
        (Some(p), None, None, None) if is_repo_path(p) => Ok(()),
        (Some(p), None, None, None) => {
            Err(field(app, "chart.path", format!("{p:?} must be a relative path inside the repository")))
        }
        (None, Some(_), Some(_), Some(v)) if is_exact_version(v) => Ok(()),
        (None, Some(_), Some(_), Some(v)) => Err(field(
            app,
            "chart.version",
            format!("{v:?} is not an exact version; plumb pins charts (e.g. 4.11.3), ranges are not allowed"),
        )),
        _ => Err(field(app, "chart", "set either path, or repo + name + version".into())),
    }
}

/// An exact SemVer version (`1.2.3`, `1.2.3-rc.1+build`), no ranges.
fn is_exact_version(v: &str) -> bool {
    let core = v.trim_start_matches('v').split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Apps in sync order: each level's apps depend only on earlier levels, so
/// the apps of one level can sync concurrently.
pub fn app_levels(config: &Config) -> Vec<Vec<usize>> {
    let index: HashMap<&str, usize> = config.apps.iter().enumerate().map(|(i, a)| (a.name.as_str(), i)).collect();
    let deps: Vec<Vec<usize>> = config
        .apps
        .iter()
        .map(|a| a.depends_on.iter().filter_map(|d| index.get(d.as_str()).copied()).collect())
        .collect();
    // validate() has rejected cycles; an order exists.
    let order = topo_order(&deps).unwrap_or_default();
    let mut level = vec![0usize; config.apps.len()];
    for &i in &order {
        level[i] = deps[i].iter().map(|&d| level[d] + 1).max().unwrap_or(0);
    }
    let mut levels: Vec<Vec<usize>> = vec![Vec::new(); level.iter().max().map_or(0, |m| m + 1)];
    for (i, l) in level.into_iter().enumerate() {
        levels[l].push(i);
    }
    levels
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
apps:
  - name: podinfo
    namespace: podinfo
    path: apps/podinfo
  - name: ingress
    namespace: ingress-nginx
    chart: {path: charts/ingress-nginx}
    values: [apps/ingress/values.yaml]
    dependsOn: [podinfo]
    mode: report
    prune: false
  - name: remote
    chart: {repo: "https://charts.example.com", name: redis, version: 18.1.2}
    dependsOn: [podinfo, ingress]
"#;

    #[test]
    fn parses_the_design_example() {
        let config = parse("plumb.yaml", GOOD).expect("valid");
        assert_eq!(config.apps.len(), 3);
        assert_eq!(config.apps[0].source(), AppSource::Path("apps/podinfo".into()));
        assert_eq!(config.apps[1].mode, AppMode::Report);
        assert!(!config.apps[1].prune && config.apps[0].prune);
        assert_eq!(config.apps[0].prune_limit_percent, 50);
        assert_eq!(app_levels(&config), vec![vec![0], vec![1], vec![2]]);
    }

    #[test]
    fn errors_name_file_app_and_field() {
        let table = [
            ("apps:\n  - name: a\n    path: x\n    pathh: y\n", "plumb.yaml: line 4 column 5: unknown field `pathh`"),
            ("apps: [\n", "plumb.yaml: line 1 column 7: unclosed bracket '['"),
            (
                "apps:\n  - name: Bad_Name\n    path: x\n",
                "plumb.yaml: app \"Bad_Name\": name: must be a DNS-1123 label",
            ),
            (
                "apps:\n  - {name: a, path: x}\n  - {name: a, path: y}\n",
                "plumb.yaml: app \"a\": name: is used by another app",
            ),
            ("apps:\n  - {name: a}\n", "plumb.yaml: app \"a\": path: set path (plain manifests) or chart"),
            (
                "apps:\n  - {name: a, path: x, chart: {path: c}}\n",
                "plumb.yaml: app \"a\": path: set either path or chart, not both",
            ),
            (
                "apps:\n  - {name: a, path: ../etc}\n",
                "plumb.yaml: app \"a\": path: \"../etc\" must be a relative path inside the repository",
            ),
            (
                "apps:\n  - {name: a, path: x, dependsOn: [b]}\n",
                "plumb.yaml: app \"a\": dependsOn: \"b\" is not an app in this file",
            ),
            (
                "apps:\n  - {name: a, chart: {repo: r, name: n, version: \"^1.2\"}}\n",
                "plumb.yaml: app \"a\": chart.version: \"^1.2\" is not an exact version",
            ),
            (
                "apps:\n  - {name: a, chart: {repo: r, version: 1.2.3}}\n",
                "plumb.yaml: app \"a\": chart: set either path, or repo + name + version",
            ),
            ("apps:\n  - {name: a, path: x, mode: sometimes}\n", "plumb.yaml: line 2 column"),
            (
                "apps:\n  - {name: a, path: x, healthTimeout: soon}\n",
                "plumb.yaml: app \"a\": healthTimeout: \"soon\" is not a duration",
            ),
            (
                "apps:\n  - {name: a, path: x, dependsOn: [c]}\n  - {name: b, path: x, dependsOn: [a]}\n  - {name: c, path: x, dependsOn: [b]}\n",
                "plumb.yaml: apps depend on each other in a cycle: a -> c -> b -> a; remove one dependsOn",
            ),
        ];
        for (text, want) in table {
            let err = parse("plumb.yaml", text).expect_err(want).to_string();
            assert!(err.starts_with(want), "{err}\n  does not start with\n{want}");
        }
    }

    #[test]
    fn dns_labels_and_versions() {
        assert!(is_dns_label("a-1") && !is_dns_label("-a") && !is_dns_label("A") && !is_dns_label(&"a".repeat(64)));
        assert!(is_exact_version("1.2.3") && is_exact_version("v4.11.3") && is_exact_version("1.0.0-rc.1+b"));
        assert!(!is_exact_version("1.2") && !is_exact_version("~1.2.3") && !is_exact_version("1.2.x"));
    }

    #[test]
    fn independent_apps_share_a_level() {
        let config = parse(
            "plumb.yaml",
            "apps:\n  - {name: a, path: x}\n  - {name: b, path: y}\n  - {name: c, path: z, dependsOn: [a]}\n",
        )
        .expect("valid");
        assert_eq!(app_levels(&config), vec![vec![0, 1], vec![2]]);
    }
}
