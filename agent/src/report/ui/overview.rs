//! The overview: the source, every app, the drifted objects (field paths
//! and the managers that changed them, never values) and the recent audit
//! records. Pure: status in, escaped HTML out; also the parts the app page
//! shares (badges, times, drifted objects, records).

use std::fmt::Write as _;

use super::html::{esc, first_line, short, strip_userinfo};
use super::page::{Depth, app_link, diff_link};
use crate::report::status::{AppStatus, DriftedObject, RecentRecord, Status};

/// Records shown on the overview.
const OVERVIEW_RECORDS: usize = 20;

/// The overview's live region.
pub fn overview(status: &Status, recent: &[RecentRecord]) -> String {
    let depth = Depth::Root;
    let mut out = String::with_capacity(8 * 1024);
    source(&mut out, status);
    let _ = write!(out, "<section><h2>Apps <span class=\"count\">{}</span></h2>", status.apps.len());
    if status.apps.is_empty() {
        out.push_str(if status.role == "standby" {
            "<p class=\"note\">This instance is a standby: the leader syncs and reports the apps.</p>"
        } else {
            "<p class=\"note\">No app synced yet.</p>"
        });
    } else {
        out.push_str(
            "<table class=\"apps\"><thead><tr><th>App</th><th>Mode</th><th>State</th><th>Health</th>\
             <th>Commit</th><th class=\"n\">Objects</th><th class=\"n\">Drifted</th><th>Last sync</th>\
             <th>Message</th></tr></thead><tbody>",
        );
        for (name, app) in &status.apps {
            app_row(&mut out, depth, name, app);
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");
    let drifted: usize = status.apps.values().map(|a| a.drifted.len()).sum();
    let _ = write!(out, "<section id=\"drift\"><h2>Drifted objects <span class=\"count\">{drifted}</span></h2>");
    if drifted == 0 {
        out.push_str("<p class=\"note ok\">No drift: every managed object is as plumb applied it.</p>");
    } else {
        drift_table(&mut out, depth, status.apps.iter().flat_map(|(n, a)| a.drifted.iter().map(move |d| (n, d))));
    }
    out.push_str("</section><section><h2>Recent syncs and drift</h2>");
    records(&mut out, depth, recent.iter().take(OVERVIEW_RECORDS), true);
    out.push_str("</section>");
    out
}

fn source(out: &mut String, status: &Status) {
    let source = &status.source;
    let _ = write!(
        out,
        "<section class=\"source\"><h2>Source</h2><dl><dt>Repository</dt><dd><code>{}</code></dd>\
         <dt>Follows</dt><dd>{}</dd><dt>Commit</dt><dd>{}</dd><dt>Last poll</dt><dd>{}</dd>\
         <dt>Agent</dt><dd>{}{}</dd></dl>",
        esc(&strip_userinfo(&source.repo)),
        esc(&source.reference),
        commit(source.revision.as_deref()),
        time(source.last_poll.as_deref()),
        esc(if status.role.is_empty() { "leader" } else { &status.role }),
        if status.ready { ", ready" } else { ", first sync not done" },
    );
    if let Some(error) = &source.error {
        let _ = write!(out, "<div class=\"error\"><strong>Last poll failed</strong><pre>{}</pre></div>", esc(error));
    }
    out.push_str("</section>");
}

fn app_row(out: &mut String, depth: Depth, name: &str, app: &AppStatus) {
    let _ = write!(
        out,
        "<tr data-app=\"{name}\"><td><a href=\"{link}\">{name}</a></td><td>{mode}</td><td>{state}</td>\
         <td>{health}</td><td>{commit}</td><td class=\"n\">{objects}</td><td class=\"n\">{drifted}</td>\
         <td>{last}</td><td class=\"msg\">{message}</td></tr>",
        name = esc(name),
        link = esc(&app_link(depth, name)),
        mode = esc(&app.mode),
        state = state_badge(&app.state),
        health = health_badge(&app.health),
        commit = commit(app.commit.as_deref()),
        objects = app.objects,
        drifted = if app.drifted.is_empty() {
            "0".to_string()
        } else {
            format!("<span class=\"badge warn\">{}</span>", app.drifted.len())
        },
        last = time(app.last_sync.as_deref()),
        message = message(app.message.as_deref()),
    );
}

/// A badge for an app's state.
pub fn state_badge(state: &str) -> String {
    let class = match state {
        "Synced" => "ok",
        "" => "muted",
        _ => "bad",
    };
    format!("<span class=\"badge {class}\">{}</span>", esc(if state.is_empty() { "-" } else { state }))
}

/// A badge for a health (`Healthy`, `Degraded: reason`...), the reason in its title.
pub fn health_badge(health: &str) -> String {
    let (label, reason) = health.split_once(": ").unwrap_or((health, ""));
    let class = match label {
        "Healthy" => "ok",
        "Progressing" | "Applied" | "NotApplied" | "NotPruned" => "warn",
        "" | "Unknown" | "Pruned" | "Gone" | "LeftAlone" => "muted",
        _ => "bad",
    };
    format!(
        "<span class=\"badge {class}\" title=\"{}\">{}</span>",
        esc(reason),
        esc(if label.is_empty() { "-" } else { label })
    )
}

/// A commit, short, the full sha in its title.
pub fn commit(commit: Option<&str>) -> String {
    match commit {
        Some(c) => format!("<code title=\"{}\">{}</code>", esc(c), esc(short(c))),
        None => "-".into(),
    }
}

/// A time; the script shows how long ago it was.
pub fn time(time: Option<&str>) -> String {
    match time {
        Some(t) => format!("<time datetime=\"{}\">{}</time>", esc(t), esc(&t.replace('T', " "))),
        None => "-".into(),
    }
}

/// A message: its first line, all of it on demand.
pub fn message(message: Option<&str>) -> String {
    match message {
        None => String::new(),
        Some(m) if !m.contains('\n') => format!("<span class=\"error-text\">{}</span>", esc(m)),
        Some(m) => format!(
            "<details><summary class=\"error-text\">{}</summary><pre>{}</pre></details>",
            esc(first_line(m)),
            esc(m)
        ),
    }
}

/// The drifted objects as a table: app, object (linked to its diff), how
/// it drifted, and each field with the managers that changed it.
pub fn drift_table<'a>(out: &mut String, depth: Depth, drifted: impl Iterator<Item = (&'a String, &'a DriftedObject)>) {
    out.push_str(
        "<table class=\"drift\"><thead><tr><th>App</th><th>Object</th><th>Drift</th>\
         <th>Fields (changed by)</th></tr></thead><tbody>",
    );
    for (app, object) in drifted {
        let _ = write!(
            out,
            "<tr data-object=\"{object}\"><td>{app}</td><td><a href=\"{link}\" title=\"show the diff\">{object}</a></td>\
             <td><span class=\"badge warn\">{kind}</span></td><td><ul class=\"fields\">",
            object = esc(&object.object),
            app = esc(app),
            link = esc(&diff_link(depth, app, &object.object)),
            kind = esc(&object.drift),
        );
        if object.fields.is_empty() {
            out.push_str(if object.drift == "deleted" { "<li>the whole object</li>" } else { "<li>-</li>" });
        }
        for field in &object.fields {
            let who =
                if field.managers.is_empty() { "no manager recorded".to_string() } else { field.managers.join(", ") };
            let _ = write!(out, "<li><code>{}</code> <span class=\"who\">{}</span></li>", esc(&field.path), esc(&who));
        }
        out.push_str("</ul></td></tr>");
    }
    out.push_str("</tbody></table>");
}

/// Audit records as a table; with `with_app`, a column names each one's app.
pub fn records<'a>(out: &mut String, depth: Depth, records: impl Iterator<Item = &'a RecentRecord>, with_app: bool) {
    let mut records = records.peekable();
    if records.peek().is_none() {
        out.push_str("<p class=\"note\">No records since this agent started (<code>plumb history</code> reads the older ones).</p>");
        return;
    }
    let _ = write!(
        out,
        "<table class=\"records\"><thead><tr><th>Time</th>{}<th>Event</th><th>Commit</th><th>Author</th>\
         <th>Signature</th><th>Actions</th><th>Result</th></tr></thead><tbody>",
        if with_app { "<th>App</th>" } else { "" }
    );
    for recent in records {
        let r = &recent.record;
        let app = match (with_app, r.app.as_str()) {
            (false, _) => String::new(),
            (true, "*") => "<td>all</td>".into(),
            (true, name) => format!("<td><a href=\"{}\">{}</a></td>", esc(&app_link(depth, name)), esc(name)),
        };
        let _ = write!(
            out,
            "<tr><td>{}</td>{app}<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>",
            time(Some(&r.time)),
            esc(&r.event),
            commit(r.commit.as_deref()),
            esc(r.author.as_deref().unwrap_or("-")),
            esc(&r.signature),
            actions(recent),
            if r.result == "success" {
                "<span class=\"badge ok\">success</span>".to_string()
            } else {
                state_badge(&r.result)
            },
            r.error.as_deref().map(|e| message(Some(e))).unwrap_or_default(),
        );
    }
    out.push_str("</tbody></table>");
}

fn actions(recent: &RecentRecord) -> String {
    let r = &recent.record;
    if r.actions.is_empty() {
        return "<span class=\"muted\">no changes</span>".into();
    }
    let mut out = String::from("<ul class=\"actions\">");
    for a in &r.actions {
        let fields = if a.fields.is_empty() {
            String::new()
        } else {
            format!(" <span class=\"who\">{}</span>", esc(&a.fields.join(", ")))
        };
        let pending = if a.done { "" } else { " <span class=\"muted\">(not done)</span>" };
        let _ = write!(out, "<li>{} <code>{}</code>{fields}{pending}</li>", esc(&a.action), esc(&a.object));
    }
    if recent.actions_total > r.actions.len() {
        let _ = write!(out, "<li class=\"muted\">and {} more</li>", recent.actions_total - r.actions.len());
    }
    out.push_str("</ul>");
    out
}
