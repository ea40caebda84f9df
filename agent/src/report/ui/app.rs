//! An app's page: its state, its drifted objects, its objects in apply
//! order with their last action and health, its recent records; and the
//! diff view of one drifted object. Pure: data in, escaped HTML out.

use std::fmt::Write as _;

use super::diff::{DiffError, DiffOutcome};
use super::html::{esc, url_component};
use super::overview::{commit, drift_table, health_badge, records, state_badge, time};
use super::page::{Depth, app_link, diff_link, overview_link};
use crate::live::drift::show_value;
use crate::live::drift::{REDACTED, describe_field};
use crate::report::status::{AppStatus, ObjectStatus, RecentRecord};

/// Objects listed per page of an app.
pub const OBJECTS_PER_PAGE: usize = 250;
/// Records shown on an app's page.
const APP_RECORDS: usize = 20;

/// App `name`'s live region: `app` is its status (`None`: unknown here),
/// `objects` its objects in apply order, listed from `from` on.
pub fn app_view(
    name: &str,
    app: Option<&AppStatus>,
    objects: &[ObjectStatus],
    recent: &[RecentRecord],
    from: usize,
) -> String {
    let depth = Depth::App;
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        "<nav class=\"crumbs\"><a href=\"{}\">overview</a> / <strong>{}</strong></nav>",
        overview_link(depth),
        esc(name)
    );
    let Some(app) = app else {
        let _ = write!(
            out,
            "<p class=\"note\">No app named <code>{}</code> has synced on this agent (a standby shows none).</p>",
            esc(name)
        );
        return out;
    };
    let _ = write!(
        out,
        "<section><h2>{name}</h2><dl class=\"summary\"><dt>Mode</dt><dd>{mode}</dd><dt>State</dt><dd>{state}</dd>\
         <dt>Health</dt><dd>{health}</dd><dt>Commit</dt><dd>{commit}</dd><dt>Objects</dt><dd>{objects}</dd>\
         <dt>Drifted</dt><dd>{drifted}</dd><dt>Last sync</dt><dd>{last}</dd></dl>",
        name = esc(name),
        mode = esc(&app.mode),
        state = state_badge(&app.state),
        health = health_badge(&app.health),
        commit = commit(app.commit.as_deref()),
        objects = app.objects,
        drifted = app.drifted.len(),
        last = time(app.last_sync.as_deref()),
    );
    if let Some(text) = &app.message {
        let _ = write!(out, "<div class=\"error\"><strong>Last sync</strong><pre>{}</pre></div>", esc(text));
    }
    out.push_str("</section>");
    if !app.drifted.is_empty() {
        let _ = write!(
            out,
            "<section id=\"drift\"><h2>Drifted objects <span class=\"count\">{}</span></h2>",
            app.drifted.len()
        );
        let app_name = name.to_string();
        drift_table(&mut out, depth, app.drifted.iter().map(|d| (&app_name, d)));
        out.push_str("</section>");
    }
    object_table(&mut out, name, app, objects, from);
    out.push_str("<section><h2>Recent records</h2>");
    records(&mut out, depth, recent.iter().filter(|r| r.record.app == name).take(APP_RECORDS), false);
    out.push_str("</section>");
    out
}

fn object_table(out: &mut String, name: &str, app: &AppStatus, objects: &[ObjectStatus], from: usize) {
    let depth = Depth::App;
    let _ = write!(out, "<section><h2>Objects in apply order <span class=\"count\">{}</span></h2>", objects.len());
    if objects.is_empty() {
        out.push_str("<p class=\"note\">No sync of this app since the agent started.</p></section>");
        return;
    }
    let from = from.min(objects.len().saturating_sub(1)) / OBJECTS_PER_PAGE * OBJECTS_PER_PAGE;
    let to = (from + OBJECTS_PER_PAGE).min(objects.len());
    if objects.len() > OBJECTS_PER_PAGE {
        pager(out, name, from, to, objects.len());
    }
    out.push_str(
        "<table class=\"objects\"><thead><tr><th class=\"n\">#</th><th>Object</th><th>Last action</th>\
         <th>Health</th><th>Drift</th><th>Commit</th><th>When</th></tr></thead><tbody>",
    );
    for (i, o) in objects.iter().enumerate().take(to).skip(from) {
        let drift = match app.drifted.iter().find(|d| d.object == o.object) {
            Some(d) => format!(
                "<a class=\"badge warn\" href=\"{}\" title=\"show the diff\">{}</a>",
                esc(&diff_link(depth, name, &o.object)),
                esc(&d.drift)
            ),
            None => String::new(),
        };
        let action = if o.done || o.action == "unchanged" {
            esc(o.action).to_string()
        } else {
            format!("{} <span class=\"muted\">(not done)</span>", esc(o.action))
        };
        let health = match o.health.reason() {
            Some(reason) => format!("{}: {reason}", o.health.label()),
            None => o.health.label().to_string(),
        };
        let _ = write!(
            out,
            "<tr data-object=\"{object}\"><td class=\"n\">{n}</td><td><code>{object}</code></td><td>{action}</td>\
             <td>{health}</td><td>{drift}</td><td>{commit}</td><td>{when}</td></tr>",
            object = esc(&o.object),
            n = i + 1,
            health = health_badge(&health),
            commit = commit(o.changed.as_ref().map(|s| s.commit.as_str())),
            when = time(o.changed.as_ref().map(|s| s.time.as_str())),
        );
    }
    out.push_str("</tbody></table></section>");
}

fn pager(out: &mut String, name: &str, from: usize, to: usize, total: usize) {
    let link = |at: usize| format!("{}?from={at}", app_link(Depth::App, name));
    let _ = write!(out, "<nav class=\"pager\">objects {}–{to} of {total}", from + 1);
    if from > 0 {
        let _ = write!(out, " · <a href=\"{}\">‹ previous</a>", esc(&link(from.saturating_sub(OBJECTS_PER_PAGE))));
    }
    if to < total {
        let _ = write!(out, " · <a href=\"{}\">next ›</a>", esc(&link(to)));
    }
    out.push_str("</nav>");
}

/// Why a diff is not shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiffRefusal {
    /// This instance is a standby: the leader computes diffs.
    Standby,
    /// Too many diffs lately.
    Limited {
        /// Seconds until a diff is allowed again.
        retry_after_secs: u64,
    },
    /// The dashboard has no access to the cluster (tests, or no live cache).
    Unavailable,
}

/// The diff view of `object` of app `app`: what was found, or why not.
pub fn diff_view(app: &str, object: &str, result: Result<&Result<DiffOutcome, DiffError>, &DiffRefusal>) -> String {
    let depth = Depth::Diff;
    let mut out = String::with_capacity(4 * 1024);
    let _ = write!(
        out,
        "<nav class=\"crumbs\"><a href=\"{}\">overview</a> / <a href=\"{}\">{}</a> / diff</nav>\
         <section><h2><code>{}</code></h2>",
        overview_link(depth),
        esc(&app_link(depth, app)),
        esc(app),
        esc(object),
    );
    let note = |out: &mut String, text: &str| {
        let _ = write!(out, "<p class=\"note\">{text}</p>");
    };
    match result {
        Err(DiffRefusal::Standby) => {
            note(&mut out, "This instance is a standby: open the leader's dashboard to diff objects.")
        }
        Err(DiffRefusal::Limited { retry_after_secs }) => note(
            &mut out,
            &format!(
                "Several diffs were computed just now; each costs the API server a read and a dry-run. Reload in {retry_after_secs} s."
            ),
        ),
        Err(DiffRefusal::Unavailable) => note(&mut out, "Diffs are not available on this agent."),
        Ok(Err(error)) => {
            let _ = write!(out, "<div class=\"error\"><pre>{}</pre></div>", esc(&error.to_string()));
        }
        Ok(Ok(DiffOutcome::NotDrifted)) => {
            note(&mut out, "This object is not drifted now: the cluster holds what Git says.")
        }
        Ok(Ok(DiffOutcome::InSync)) => note(&mut out, "No difference any more: the drift was just resolved."),
        Ok(Ok(DiffOutcome::Gone)) => note(
            &mut out,
            "The object was deleted from the cluster. In enforce mode plumb re-creates it; in report mode it stays reported.",
        ),
        Ok(Ok(DiffOutcome::Fields { secret, fields })) => {
            out.push_str(
                "<p class=\"note\">What Git says and what the cluster holds, for each field plumb sets \
                 (as <code>plumb diff</code> shows it; one read and one server-side dry-run, nothing written).</p>",
            );
            if *secret {
                out.push_str("<p class=\"note\">This is a Secret: its values are never shown.</p>");
            }
            out.push_str(
                "<table class=\"diff\"><thead><tr><th>Field (changed by)</th><th>Git</th><th>Cluster</th></tr></thead><tbody>",
            );
            // A Secret's values are hidden here too, whoever produced the fields.
            let shown = |value: &Option<serde_json::Value>| match value {
                Some(_) if *secret => REDACTED.to_string(),
                other => show_value(other),
            };
            for f in fields {
                let _ = write!(
                    out,
                    "<tr><td><code>{}</code></td><td><code class=\"git\">{}</code></td><td><code class=\"cluster\">{}</code></td></tr>",
                    esc(&describe_field(&f.path, &f.managers)),
                    esc(&shown(&f.desired)),
                    esc(&shown(&f.live)),
                );
            }
            out.push_str("</tbody></table>");
        }
    }
    let _ = write!(
        out,
        "<p class=\"muted\">Computed on request, not live. <a href=\"?object={}\">Compute again</a></p></section>",
        url_component(object)
    );
    out
}
