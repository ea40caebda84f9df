//! `plumb diff`: what a sync of a config repo would change in the cluster,
//! without changing anything. Each app is planned as in report mode
//! (creates, prunes), and every object that exists is compared with one
//! GET and one server-side dry-run: the fields plumb would set that the
//! cluster holds differently (Secret values redacted).

use std::fmt::Write as _;
use std::sync::Arc;

use super::commit::render_app;
use crate::apply::{Mode, ObjectAction, SyncRequest, Syncer};
use crate::live::drift::{REDACTED, describe_field, explain, ignored_pointers};
use crate::plan::{AppContext, PrunePolicy};
use crate::render::config::{self, CONFIG_FILE};
use crate::source::Tree;

/// The differences found, as readable text (empty when in sync).
pub async fn diff(syncer: &Syncer, tree: Arc<dyn Tree>) -> Result<String, String> {
    let text = tree.read_string(CONFIG_FILE).map_err(|e| e.to_string())?;
    let config = config::parse(CONFIG_FILE, &text).map_err(|e| e.to_string())?;
    let mut out = String::new();
    let env = syncer.chart_env().await;
    for app in &config.apps {
        let objects = render_app(&tree, app, &env).map_err(|e| e.to_string())?;
        let request = SyncRequest {
            app: AppContext { name: app.name.clone(), namespace: app.namespace.clone() },
            objects,
            commit: None,
            render_digest: None,
            mode: Mode::Report,
            prune: PrunePolicy {
                enabled: app.prune,
                max_share_percent: 100,
                allow_large: true,
                ..PrunePolicy::default()
            },
            remove_app: false,
            health_timeout: None,
        };
        let report = syncer.sync(request.clone()).await;
        if let Err(e) = &report.result {
            let _ = writeln!(out, "{}: cannot plan: {e}", app.name);
            continue;
        }
        let mut lines = Vec::new();
        for key in report.planned(ObjectAction::Create) {
            lines.push(format!("+ {key} (would be created)"));
        }
        for key in report.planned(ObjectAction::Prune) {
            lines.push(format!("- {key} (would be pruned)"));
        }
        for desired in syncer.desired(&request).await.map_err(|e| e.to_string())? {
            let Some(live) = syncer.get_object(&desired).await? else { continue };
            let applied = syncer.apply_object(&desired, true).await?;
            let fields = explain(&desired.key, &applied, &live, &ignored_pointers(&desired.manifest));
            if fields.is_empty() {
                continue;
            }
            lines.push(format!("~ {}", desired.key));
            for f in fields {
                let show = |v: &Option<serde_json::Value>| match v {
                    Some(serde_json::Value::String(s)) if s == REDACTED => REDACTED.to_string(),
                    Some(v) => v.to_string(),
                    None => "(absent)".to_string(),
                };
                lines.push(format!(
                    "    {}: git {} -> cluster {}",
                    describe_field(&f.path, &f.managers),
                    show(&f.desired),
                    show(&f.live)
                ));
            }
        }
        if !lines.is_empty() {
            let _ = writeln!(out, "{}:", app.name);
            for line in lines {
                let _ = writeln!(out, "  {line}");
            }
        }
    }
    Ok(out)
}
