//! Reading the files the pure core needs: contract documents with their
//! amendments, and extra holiday-data years.

use std::path::{Path, PathBuf};

use kefu_core::calendar::HolidayCalendar;
use kefu_core::contract::{self, ContractDocument, Diagnostics, SourceFile};

use crate::cli::UserError;

/// Load a contract document and every amendment it lists (paths relative to the contract file).
pub(crate) fn load_contract(
    path: &Path,
    holidays: &HolidayCalendar,
) -> Result<ContractDocument, UserError> {
    let text = read_text(path)?;
    if looks_like_amendment(&text) {
        return Err(UserError::Message(format!(
            "{}: this is an amendment (补充协议); check or show the contract that lists it in `amendments`",
            path.display()
        )));
    }
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut read = |rel: &str| -> Result<(String, String), String> {
        let p: PathBuf = base_dir.join(rel);
        let text = std::fs::read_to_string(&p).map_err(|e| e.to_string())?;
        Ok((p.display().to_string(), text))
    };
    contract::load(
        SourceFile::new(path.display().to_string(), text),
        holidays,
        &mut read,
    )
    .map_err(UserError::Diagnostics)
}

/// An amendment file has an `[amendment]` table and no `[contract]` table.
fn looks_like_amendment(text: &str) -> bool {
    let header = |name: &str| text.lines().any(|l| l.trim_start().starts_with(name));
    header("[amendment]") && !header("[contract]")
}

pub(crate) fn read_text(path: &Path) -> Result<String, UserError> {
    std::fs::read_to_string(path)
        .map_err(|e| UserError::Message(format!("{}: cannot read: {e}", path.display())))
}

/// The built-in holiday years plus every `*.toml` in `dir` (a year there replaces a built-in one).
pub(crate) fn holidays(dir: Option<&Path>) -> Result<HolidayCalendar, UserError> {
    let mut cal = HolidayCalendar::builtin();
    let Some(dir) = dir else { return Ok(cal) };
    let entries = std::fs::read_dir(dir).map_err(|e| {
        UserError::Message(format!(
            "{}: cannot read holiday folder: {e}",
            dir.display()
        ))
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    for p in paths {
        let text = read_text(&p)?;
        cal.add_year_toml(&p.display().to_string(), &text)
            .map_err(|e| UserError::Message(e.to_string()))?;
    }
    Ok(cal)
}

/// Diagnostics printed one per line, then a count.
pub(crate) fn print_diagnostics(d: &Diagnostics) {
    for line in d.iter() {
        eprintln!("error: {line}");
    }
    let n = d.len();
    eprintln!("{n} error{}", if n == 1 { "" } else { "s" });
}
