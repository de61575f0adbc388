//! PDF from the report's HTML, printed by a headless Chromium. The HTML is laid
//! out for A4 already; Chromium brings a complete text layout (Chinese line
//! breaking, font fallback) that a second layout engine would have to match.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::UserError;

/// The browser to print with: `KEFU_CHROMIUM`, else the usual names on the PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KEFU_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
    .find(|p| p.is_file())
}

/// Prints `html` to `out` as PDF.
pub(crate) fn print(html: &str, out: &Path) -> Result<(), UserError> {
    let browser = chromium().ok_or_else(|| {
        UserError::Message(
            "--format pdf needs Chromium to print the report: install it (Debian: `apt install chromium fonts-noto-cjk`) or set KEFU_CHROMIUM to its path".to_owned(),
        )
    })?;
    let work = tempfile::tempdir()
        .map_err(|e| UserError::Message(format!("cannot create a temporary folder: {e}")))?;
    let page = work.path().join("report.html");
    std::fs::write(&page, html)
        .map_err(|e| UserError::Message(format!("{}: cannot write: {e}", page.display())))?;
    let out_abs = if out.is_absolute() {
        out.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| UserError::Message(e.to_string()))?
            .join(out)
    };
    let profile = work.path().join("profile");
    let status = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--print-to-pdf={}", out_abs.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .map_err(|e| UserError::Message(format!("cannot run {}: {e}", browser.display())))?;
    if !status.status.success() || !out_abs.is_file() {
        let err = String::from_utf8_lossy(&status.stderr);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(UserError::Message(format!(
            "{} could not print the report to {}: {last}",
            browser.display(),
            out_abs.display()
        )));
    }
    Ok(())
}
