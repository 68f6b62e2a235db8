//! Writing `e`'s export to a file and saying where.

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::app::{App, Status};

pub fn write(app: &mut App, dir: &Path, now: DateTime<Utc>) {
    let (ext, contents, name) = crate::ui::export::current_view(app);
    let path = dir.join(format!(
        "kmstop-{name}-{}.{ext}",
        now.format("%Y%m%dT%H%M%SZ")
    ));
    let (text, warning) = match std::fs::write(&path, contents) {
        Ok(()) => (format!("exported to {}", path.display()), false),
        Err(e) => (format!("cannot export to {}: {e}", path.display()), true),
    };
    tracing::info!("{text}");
    app.status = Some(Status { text, warning });
}
