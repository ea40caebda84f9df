//! `plumb diff`: what a sync of a config repo would change in the cluster,
//! without changing anything. Each app is planned as in report mode
//! (creates, prunes), and every object that exists is compared with one
//! GET and one server-side dry-run: the fields plumb would set that the
//! cluster holds differently (Secret values redacted).

use std::fmt::Write as _;
use std::sync::Arc;

use super::commit::render_app;
use crate::apply::diff::object_diff;
use crate::apply::{Mode, ObjectAction, SyncRequest, Syncer};
use crate::live::drift::{describe_field, show_value};
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
            mode: Mode::Report,
            prune: PrunePolicy {
                enabled: app.prune,
                max_share_percent: 100,
                allow_large: true,
                crds: app.prune_crds,
                non_empty_namespaces: app.prune_non_empty_namespaces,
                ..PrunePolicy::default()
            },
            ..SyncRequest::new(AppContext { name: app.name.clone(), namespace: app.namespace.clone() }, objects)
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
            let Some(fields) = object_diff(syncer.objects(), &desired).await? else { continue };
            if fields.is_empty() {
                continue;
            }
            lines.push(format!("~ {}", desired.key));
            for f in fields {
                lines.push(format!(
                    "    {}: git {} -> cluster {}",
                    describe_field(&f.path, &f.managers),
                    show_value(&f.desired),
                    show_value(&f.live)
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
