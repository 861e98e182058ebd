//! Where a template's text comes from: a file of the same name under `templates_dir` when
//! there is one, otherwise the copy from `templates/` built into the binary.

use std::path::Path;

pub fn source(dir: Option<&Path>, name: &str, shipped: &str) -> Result<String, String> {
    match dir.map(|d| d.join(name)).filter(|p| p.exists()) {
        Some(p) => std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display())),
        None => Ok(shipped.to_string()),
    }
}
