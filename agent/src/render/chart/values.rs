//! Values as Helm computes them: the user's values layered over the
//! chart's `values.yaml` (maps merge, everything else replaces, `null`
//! deletes a default), each subchart's defaults under its name, `global`
//! copied down, dependencies switched by `condition`/`tags`, renamed by
//! `alias`, and `import-values` lifted into the parent.

use serde_json::{Map, Value};

use super::load::Chart;

/// Layers `files` in order over each other (later files win; maps merge,
/// lists and scalars replace, `null` is kept so it can delete a default).
pub fn layer(files: &[Value]) -> Value {
    let mut result = Map::new();
    for file in files {
        if let Value::Object(map) = file {
            merge_over(&mut result, map);
        }
    }
    Value::Object(result)
}

fn merge_over(dst: &mut Map<String, Value>, src: &Map<String, Value>) {
    for (key, value) in src {
        match (dst.get_mut(key), value) {
            (Some(Value::Object(d)), Value::Object(s)) => merge_over(d, s),
            _ => {
                dst.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Prepares a chart for rendering with `user` values: drops disabled
/// dependencies, applies aliases, imports values, and returns the chart
/// and the coalesced values (`.Values` of the top chart).
pub fn prepare(mut chart: Chart, user: &Value) -> (Chart, Value) {
    let user = match user {
        Value::Object(_) => user.clone(),
        _ => Value::Object(Map::new()),
    };
    // Which dependencies are enabled depends on the coalesced values.
    process_enabled(&mut chart, &user, "");
    process_imports(&mut chart, &user);
    let mut values = coalesce(&chart, user);
    drop_nulls(&mut values);
    (chart, values)
}

/// Removes `null` entries from maps (a `null` default means "no value").
fn drop_nulls(value: &mut Value) {
    if let Value::Object(map) = value {
        map.retain(|_, v| !v.is_null());
        map.values_mut().for_each(drop_nulls);
    }
}

/// Helm's `CoalesceValues`: `values` over the chart's defaults, recursively
/// into subcharts.
pub fn coalesce(chart: &Chart, values: Value) -> Value {
    let mut dest = match values {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    coalesce_into(chart, &mut dest);
    Value::Object(dest)
}

fn coalesce_into(chart: &Chart, dest: &mut Map<String, Value>) {
    // The chart's own defaults.
    if let Value::Object(defaults) = &chart.values {
        for (key, default) in defaults {
            match dest.get_mut(key) {
                Some(Value::Null) => {
                    dest.remove(key);
                }
                Some(Value::Object(d)) => {
                    if let Value::Object(s) = default {
                        coalesce_tables(d, s);
                    }
                }
                Some(_) => {}
                None => {
                    dest.insert(key.clone(), default.clone());
                }
            }
        }
    }
    // Each subchart's values live under its name, with the parent's globals.
    for sub in &chart.dependencies {
        let name = sub.name().to_string();
        let mut sub_values = match dest.remove(&name) {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        };
        coalesce_globals(&mut sub_values, dest);
        coalesce_into(sub, &mut sub_values);
        dest.insert(name, Value::Object(sub_values));
    }
}

/// `src` fills what `dst` lacks; a `null` in `dst` deletes the key.
fn coalesce_tables(dst: &mut Map<String, Value>, src: &Map<String, Value>) {
    for (key, value) in src {
        match dst.get_mut(key) {
            Some(Value::Null) => {
                dst.remove(key);
            }
            None => {
                dst.insert(key.clone(), value.clone());
            }
            Some(Value::Object(d)) => {
                if let Value::Object(s) = value {
                    coalesce_tables(d, s);
                }
            }
            Some(_) => {}
        }
    }
}

/// Copies the parent's `global` into the subchart's, the parent winning.
fn coalesce_globals(dest: &mut Map<String, Value>, parent: &Map<String, Value>) {
    let mut globals = match dest.get("global") {
        Some(Value::Object(g)) => g.clone(),
        Some(_) => return,
        None => Map::new(),
    };
    if let Some(Value::Object(parent_globals)) = parent.get("global") {
        for (key, value) in parent_globals {
            match (value, globals.get(key)) {
                (Value::Object(pv), Some(Value::Object(existing))) => {
                    let mut merged = pv.clone();
                    merge_missing(&mut merged, existing);
                    globals.insert(key.clone(), Value::Object(merged));
                }
                (Value::Object(_), Some(_)) => {}
                (_, Some(Value::Object(_))) => {}
                _ => {
                    globals.insert(key.clone(), value.clone());
                }
            }
        }
    }
    dest.insert("global".into(), Value::Object(globals));
}

fn merge_missing(dst: &mut Map<String, Value>, src: &Map<String, Value>) {
    for (key, value) in src {
        match (dst.get_mut(key), value) {
            (None, _) => {
                dst.insert(key.clone(), value.clone());
            }
            (Some(Value::Object(d)), Value::Object(s)) => merge_missing(d, s),
            _ => {}
        }
    }
}

fn path_value<'v>(values: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').filter(|p| !p.is_empty()).try_fold(values, |v, part| v.get(part))
}

/// Switches dependencies on and off by `tags` and `condition` (conditions
/// win), applies aliases, and recurses into the enabled ones.
/// `values` are the parent's coalesced values (the user's at the top);
/// `path` is this chart's key path in them.
fn process_enabled(chart: &mut Chart, values: &Value, path: &str) {
    let entries = chart.dependency_entries();
    if entries.is_empty() && chart.dependencies.is_empty() {
        return;
    }
    // Conditions and tags are evaluated against the values coalesced with
    // every loaded subchart.
    let cvals = coalesce(chart, values.clone());
    let loaded = std::mem::take(&mut chart.dependencies);
    let mut kept = Vec::new();
    // Subcharts not listed in Chart.yaml are always included.
    for sub in &loaded {
        if !entries.iter().any(|e| e["name"].as_str() == Some(sub.name())) {
            kept.push(sub.clone());
        }
    }
    let tags = cvals.get("tags");
    for entry in &entries {
        let Some(name) = entry["name"].as_str() else { continue };
        let Some(sub) = loaded.iter().find(|c| c.name() == name) else { continue };
        let mut enabled = true;
        if let Some(entry_tags) = entry["tags"].as_array() {
            let (mut has_true, mut has_false) = (false, false);
            for tag in entry_tags.iter().filter_map(Value::as_str) {
                match tags.and_then(|t| t.get(tag)) {
                    Some(Value::Bool(true)) => has_true = true,
                    Some(Value::Bool(false)) => has_false = true,
                    _ => {}
                }
            }
            if !has_true && has_false {
                enabled = false;
            }
        }
        if let Some(condition) = entry["condition"].as_str() {
            for c in condition.split(',') {
                if let Some(Value::Bool(b)) = path_value(&cvals, &format!("{path}{}", c.trim())) {
                    enabled = *b;
                    break;
                }
            }
        }
        if !enabled {
            continue;
        }
        let mut sub = sub.clone();
        if let Some(alias) = entry["alias"].as_str().filter(|a| !a.is_empty()) {
            sub.metadata["name"] = Value::String(alias.to_string());
        }
        kept.push(sub);
    }
    for sub in &mut kept {
        let sub_path = format!("{path}{}.", sub.name());
        process_enabled(sub, &cvals, &sub_path);
    }
    chart.dependencies = kept;
}

/// `import-values`: a child's `exports.<name>` (string form) or `child`
/// path (map form) copied into the parent's defaults at `parent`, with the
/// parent's own values taking precedence.
fn process_imports(chart: &mut Chart, user: &Value) {
    for sub in &mut chart.dependencies {
        process_imports(sub, &Value::Null);
    }
    let cvals = coalesce(chart, user.clone());
    let mut imported = Map::new();
    for entry in chart.dependency_entries() {
        let name = entry["alias"]
            .as_str()
            .filter(|a| !a.is_empty())
            .or(entry["name"].as_str())
            .unwrap_or_default()
            .to_string();
        for import in entry["import-values"].as_array().cloned().unwrap_or_default() {
            let (child, parent) = match &import {
                Value::String(s) => (format!("exports.{s}"), String::new()),
                Value::Object(m) => (
                    m.get("child").and_then(Value::as_str).unwrap_or_default().to_string(),
                    m.get("parent").and_then(Value::as_str).unwrap_or_default().to_string(),
                ),
                _ => continue,
            };
            let Some(Value::Object(table)) = path_value(&cvals, &format!("{name}.{child}")) else { continue };
            let mut value = Value::Object(table.clone());
            for part in parent.split('.').filter(|p| !p.is_empty()).rev() {
                let mut wrapper = Map::new();
                wrapper.insert(part.to_string(), value);
                value = Value::Object(wrapper);
            }
            if let Value::Object(map) = value {
                merge_over(&mut imported, &map);
            }
        }
    }
    if imported.is_empty() {
        return;
    }
    if let Value::Object(defaults) = &mut chart.values {
        let mut merged = imported;
        merge_over(&mut merged, defaults);
        *defaults = merged;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chart(name: &str, values: Value, deps: Vec<Chart>, entries: Value) -> Chart {
        Chart {
            metadata: json!({"name": name, "version": "1.0.0", "dependencies": entries}),
            values,
            schema: None,
            templates: Vec::new(),
            files: Default::default(),
            dependencies: deps,
            origin: name.into(),
        }
    }

    #[test]
    fn layering_merges_maps_replaces_lists_and_null_deletes() {
        let base = chart("app", json!({"a": {"x": 1, "y": 2}, "list": [1, 2], "gone": "yes"}), vec![], json!(null));
        let user = layer(&[json!({"a": {"y": 3}, "list": [9]}), json!({"gone": null})]);
        let (_, values) = prepare(base, &user);
        assert_eq!(values, json!({"a": {"x": 1, "y": 3}, "list": [9]}));
    }

    #[test]
    fn subcharts_get_their_values_globals_conditions_tags_and_aliases() {
        let sub = chart("db", json!({"port": 5432, "global": {"region": "eu"}}), vec![], json!(null));
        let off = chart("cache", json!({}), vec![], json!(null));
        let parent = chart(
            "app",
            json!({"global": {"env": "prod"}, "db": {"port": 1}, "cache": {"enabled": false}}),
            vec![sub, off],
            json!([
                {"name": "db", "alias": "primary", "tags": ["backend"]},
                {"name": "cache", "condition": "cache.enabled"}
            ]),
        );
        let (chart, values) = prepare(parent, &json!({"tags": {"backend": true}}));
        let names: Vec<&str> = chart.dependencies.iter().map(Chart::name).collect();
        assert_eq!(names, vec!["primary"]);
        assert_eq!(values["primary"]["port"], json!(5432));
        assert_eq!(values["primary"]["global"], json!({"env": "prod", "region": "eu"}));
    }
}
