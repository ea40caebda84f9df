//! Rendering a prepared chart: every template of the chart and its
//! subcharts parsed into one set (in Helm's order, so the parent's
//! `define`s win), then each non-partial executed with its chart's data.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use base64::Engine as _;

use super::ChartError;
use super::capabilities::Capabilities;
use super::ignore::glob_match;
use super::load::Chart;
use plumb_gotmpl::funcs::helm::Lookup;
use plumb_gotmpl::funcs::yaml::to_yaml;
use plumb_gotmpl::value::{Map, Object, Value};
use plumb_gotmpl::{Clock, Functions, NO_VALUE, TemplateError, Templates};

/// The release a chart is rendered for.
#[derive(Debug, Clone)]
pub struct Release {
    /// `.Release.Name`.
    pub name: String,
    /// `.Release.Namespace`.
    pub namespace: String,
    /// `.Release.Revision`.
    pub revision: i64,
    /// `.Release.IsInstall`.
    pub is_install: bool,
}

impl Release {
    fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert("Name".into(), Value::str(self.name.as_str()));
        map.insert("Namespace".into(), Value::str(self.namespace.as_str()));
        map.insert("Revision".into(), Value::Int(self.revision));
        map.insert("IsInstall".into(), Value::Bool(self.is_install));
        map.insert("IsUpgrade".into(), Value::Bool(!self.is_install));
        map.insert("Service".into(), Value::str("Helm"));
        Value::map(map)
    }
}

/// Helm's Go type for `.` and `.Values`.
const VALUES_TYPE: &str = "common.Values";

struct Renderable {
    name: String,
    source: String,
    data: Value,
    base_path: String,
    library: bool,
}

/// Renders `chart` with its coalesced `values`: template path → output, as
/// Helm returns it (NOTES.txt and tests included; partials excluded).
pub fn render(
    chart: &Chart,
    values: &serde_json::Value,
    release: &Release,
    capabilities: &Capabilities,
    clock: Clock,
) -> Result<BTreeMap<String, String>, ChartError> {
    parse(chart, values, release, capabilities, clock)?.execute()
}

/// [`render`] with `lookup` reading the live cluster through `lookup`
/// (`None`: empty, as offline).
pub fn render_with_lookup(
    chart: &Chart,
    values: &serde_json::Value,
    release: &Release,
    capabilities: &Capabilities,
    clock: Clock,
    lookup: Option<Arc<dyn Lookup>>,
) -> Result<BTreeMap<String, String>, ChartError> {
    parse_with_lookup(chart, values, release, capabilities, clock, lookup)?.execute()
}

/// A chart's templates parsed into one set, with each template's data:
/// the first half of [`render`] (kept apart so benchmarks can time it).
pub struct Parsed {
    set: Templates,
    renderables: Vec<Renderable>,
}

/// Parses every template of the chart and its subcharts, in Helm's order
/// (deeper paths first, then reverse lexical, so the parent's `define`s win).
pub fn parse(
    chart: &Chart,
    values: &serde_json::Value,
    release: &Release,
    capabilities: &Capabilities,
    clock: Clock,
) -> Result<Parsed, ChartError> {
    parse_with_lookup(chart, values, release, capabilities, clock, None)
}

fn parse_with_lookup(
    chart: &Chart,
    values: &serde_json::Value,
    release: &Release,
    capabilities: &Capabilities,
    clock: Clock,
    lookup: Option<Arc<dyn Lookup>>,
) -> Result<Parsed, ChartError> {
    let mut renderables = Vec::new();
    let common = (release.to_value(), capabilities.to_value());
    collect(chart, "", Value::from_json(values), &common, &mut renderables);
    renderables.sort_by(|a, b| {
        let (da, db) = (a.name.matches('/').count(), b.name.matches('/').count());
        db.cmp(&da).then_with(|| b.name.cmp(&a.name))
    });
    let functions = Arc::new(Functions::helm_with_lookup(clock, lookup));
    let mut set = Templates::new(functions);
    for r in &renderables {
        set.parse(&r.name, &r.source).map_err(|e| template_error(&e))?;
    }
    Ok(Parsed { set, renderables })
}

impl Parsed {
    /// Executes every non-partial template (library charts only lend
    /// their `define`s); `<no value>` is removed, as Helm does.
    pub fn execute(&self) -> Result<BTreeMap<String, String>, ChartError> {
        let mut out = BTreeMap::new();
        for r in &self.renderables {
            let base = r.name.rsplit('/').next().unwrap_or(&r.name);
            if base.starts_with('_') || r.library {
                continue;
            }
            if let Value::Map(data) = &r.data {
                let mut template = Map::new();
                template.insert("Name".into(), Value::str(r.name.as_str()));
                template.insert("BasePath".into(), Value::str(r.base_path.as_str()));
                data.borrow_mut().insert("Template".into(), Value::map(template));
            }
            let text = self.set.execute(&r.name, &r.data).map_err(|e| template_error(&e))?;
            out.insert(r.name.clone(), text.replace(NO_VALUE, ""));
        }
        Ok(out)
    }
}

fn collect(chart: &Chart, parent: &str, values: Value, common: &(Value, Value), out: &mut Vec<Renderable>) -> Value {
    let id = if parent.is_empty() { chart.name().to_string() } else { format!("{parent}/charts/{}", chart.name()) };
    if let Value::Map(m) = &values {
        m.borrow_mut().type_name = Some(VALUES_TYPE);
    }
    let mut data = Map::new();
    data.insert("Values".into(), values.clone());
    data.insert("Release".into(), common.0.clone());
    data.insert("Capabilities".into(), common.1.clone());
    data.insert("Chart".into(), chart_metadata(&chart.metadata));
    data.insert("Files".into(), Value::Object(Rc::new(Files(chart.files.clone()))));
    let mut subcharts = Map::new();
    for sub in &chart.dependencies {
        let sub_values = match &values {
            Value::Map(m) => m.borrow().get(sub.name()).cloned().unwrap_or_else(|| Value::map(Map::new())),
            _ => Value::map(Map::new()),
        };
        let sub_data = collect(sub, &id, sub_values, common, out);
        subcharts.insert(sub.name().to_string(), sub_data);
    }
    data.insert("Subcharts".into(), Value::map(subcharts));
    let data = Value::named_map(data, VALUES_TYPE);
    let library = chart.is_library();
    for (path, source) in &chart.templates {
        out.push(Renderable {
            name: format!("{id}/{path}"),
            source: source.clone(),
            data: data.clone(),
            base_path: format!("{id}/templates"),
            library,
        });
    }
    data
}

/// `.Chart`: Chart.yaml under Helm's field names.
fn chart_metadata(metadata: &serde_json::Value) -> Value {
    let mut map = Map::new();
    let Some(fields) = metadata.as_object() else { return Value::map(map) };
    for (key, value) in fields {
        let name = match key.as_str() {
            "apiVersion" => "APIVersion".to_string(),
            "appVersion" => "AppVersion".to_string(),
            "kubeVersion" => "KubeVersion".to_string(),
            other => {
                let mut chars = other.chars();
                chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
            }
        };
        let value = match (key.as_str(), value) {
            ("version" | "appVersion" | "name" | "description", serde_json::Value::Number(n)) => {
                Value::str(n.to_string())
            }
            _ => Value::from_json(value),
        };
        map.insert(name, value);
    }
    Value::map(map)
}

/// Helm's message for a template error: `fail` and `required` as
/// `execution error at (file:line:col): message`, others as Go prints them.
fn template_error(error: &TemplateError) -> ChartError {
    match error {
        TemplateError::Exec(e) => {
            // The innermost `fail`/`required` message, even inside include
            // or tpl, at the position in the template being rendered.
            let text = e.to_string();
            let message = ["error calling fail: ", "error calling required: "]
                .iter()
                .filter_map(|marker| text.rfind(marker).map(|i| i + marker.len()))
                .max();
            if let Some(start) = message {
                return ChartError::Template(format!(
                    "execution error at ({}:{}:{}): {}",
                    e.file,
                    e.line,
                    e.col,
                    &text[start..]
                ));
            }
            ChartError::Template(text)
        }
        TemplateError::Parse { name, line, message } => {
            ChartError::Template(format!("parse error at ({name}:{line}): {message}"))
        }
        other => ChartError::Template(other.to_string()),
    }
}

/// `.Files`: the chart's non-template files (shared with the chart, not copied).
struct Files(Arc<BTreeMap<String, Vec<u8>>>);

impl Files {
    fn get(&self, path: &str) -> String {
        self.0.get(path).map(|d| String::from_utf8_lossy(d).into_owned()).unwrap_or_default()
    }
}

impl Object for Files {
    fn type_name(&self) -> &str {
        "files.Files"
    }

    fn kind_name(&self) -> &'static str {
        "map"
    }

    fn field(&self, name: &str) -> Option<Result<Value, String>> {
        match name {
            "AsConfig" => {
                let mut map = Map::new();
                for (path, data) in self.0.iter() {
                    let base = path.rsplit('/').next().unwrap_or(path);
                    map.insert(base.to_string(), Value::str(String::from_utf8_lossy(data).into_owned()));
                }
                Some(Ok(Value::str(if self.0.is_empty() { String::new() } else { to_yaml(&Value::map(map)) })))
            }
            "AsSecrets" => {
                let mut map = Map::new();
                for (path, data) in self.0.iter() {
                    let base = path.rsplit('/').next().unwrap_or(path);
                    map.insert(base.to_string(), Value::str(base64::engine::general_purpose::STANDARD.encode(data)));
                }
                Some(Ok(Value::str(if self.0.is_empty() { String::new() } else { to_yaml(&Value::map(map)) })))
            }
            _ => None,
        }
    }

    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let arg = || match args {
            [Value::Str(s)] => Ok(s.to_string()),
            _ => Err(format!("{name} takes one string argument")),
        };
        Some(match name {
            "Get" | "GetBytes" => arg().map(|p| Value::str(self.get(&p))),
            "Lines" => arg().map(|p| {
                let text = self.get(&p);
                Value::strings(if text.is_empty() {
                    Vec::new()
                } else {
                    text.split('\n').map(str::to_string).collect()
                })
            }),
            "Glob" => arg().map(|pattern| {
                let matched: BTreeMap<String, Vec<u8>> = self
                    .0
                    .iter()
                    .filter(|(path, _)| glob_double_star(&pattern, path))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                Value::Object(Rc::new(Files(Arc::new(matched))))
            }),
            _ => return None,
        })
    }

    fn display(&self) -> String {
        let entries: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}:{:?}", v)).collect();
        format!("map[{}]", entries.join(" "))
    }
}

/// gobwas/glob with `/` as separator: `**` crosses directories, `*` does not.
fn glob_double_star(pattern: &str, path: &str) -> bool {
    if let Some((head, tail)) = pattern.split_once("**") {
        if !path.starts_with(head) && !glob_match(&format!("{head}*"), &path[..head.len().min(path.len())]) {
            return false;
        }
        let rest = &path[head.len().min(path.len())..];
        let tail = tail.trim_start_matches('/');
        if tail.is_empty() {
            return true;
        }
        return (0..=rest.len()).any(|i| rest.is_char_boundary(i) && glob_double_star(tail, &rest[i..]));
    }
    glob_match(pattern, path)
}
