//! One object's diff, as `plumb diff` and the dashboard show it: one GET
//! and one server-side dry-run, the fields plumb would set that the
//! cluster holds differently (Secret values redacted).

use crate::cluster::objects::Objects;
use crate::live::drift::{FieldDrift, explain, ignored_pointers};
use crate::plan::DesiredObject;

/// The fields plumb would set that the cluster holds differently; `None`
/// when the object does not exist.
pub async fn object_diff(objects: &Objects, desired: &DesiredObject) -> Result<Option<Vec<FieldDrift>>, String> {
    let catalog = objects.catalog().await;
    let live = objects.get(&catalog, &desired.api_version, &desired.key).await.map_err(|e| e.to_string())?;
    let Some(live) = live else { return Ok(None) };
    let applied = objects.apply(&catalog, desired, true).await.map_err(|e| e.to_string())?;
    Ok(Some(explain(&desired.key, &applied, &live, &ignored_pointers(&desired.manifest))))
}
