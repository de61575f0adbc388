//! Source files and diagnostics: every error a person sees names the file,
//! the line and column (1-based, counted in characters so Chinese text lines
//! up), the dotted key, what was expected and what was found.

use std::fmt;

/// Index of a file inside a [`Sources`] set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub(crate) u16);

/// A byte range inside one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Loc {
    pub(crate) file: FileId,
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Loc {
    pub(crate) fn new(file: FileId, range: std::ops::Range<usize>) -> Loc {
        let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Loc {
            file,
            start: clamp(range.start),
            end: clamp(range.end.max(range.start)),
        }
    }
}

/// One loaded text file: its display name (as the user typed the path) and text.
#[derive(Clone, Debug)]
pub struct SourceFile {
    name: String,
    text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> SourceFile {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile {
            name: name.into(),
            text,
            line_starts,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// 1-based line and character column of a byte offset.
    pub fn line_col(&self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1) - 1;
        let start = self.line_starts[line];
        // Offsets from the TOML parser always fall on char boundaries; be lenient anyway.
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (
            u32::try_from(line + 1).unwrap_or(u32::MAX),
            u32::try_from(column + 1).unwrap_or(u32::MAX),
        )
    }
}

/// All files taking part in one contract: the base document and its amendments.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    pub fn add(&mut self, file: SourceFile) -> FileId {
        let id = FileId(u16::try_from(self.files.len()).unwrap_or(u16::MAX));
        self.files.push(file);
        id
    }

    /// The file behind an id. Ids come only from [`Sources::add`] on this set, so the
    /// index is always in range.
    pub fn file(&self, id: FileId) -> &SourceFile {
        &self.files[usize::from(id.0)]
    }

    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    /// The source text a location covers, shortened for messages.
    pub(crate) fn snippet(&self, loc: Loc) -> String {
        let text = self.file(loc.file).text();
        let s = text
            .get(loc.start as usize..loc.end as usize)
            .unwrap_or("")
            .trim();
        let mut out: String = s.chars().take(60).collect();
        if s.chars().count() > 60 {
            out.push('…');
        }
        out
    }

    pub(crate) fn position(&self, loc: Loc) -> Position {
        let file = self.file(loc.file);
        let (line, column) = file.line_col(loc.start as usize);
        Position {
            file: file.name().to_string(),
            line,
            column,
        }
    }
}

/// Where a diagnostic points.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Position {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

/// One problem in a contract document, in words a person can act on.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub position: Position,
    /// Dotted key path, e.g. `channels.phone.targets.connection_rate.min`; empty for the whole file.
    pub key: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Position { file, line, column } = &self.position;
        if self.key.is_empty() {
            write!(f, "{file}:{line}:{column}: {}", self.message)
        } else {
            write!(f, "{file}:{line}:{column}: {}: {}", self.key, self.message)
        }
    }
}

/// Several diagnostics, reported together, in file and position order.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// Collects diagnostics while a document is read, so that one run reports them all.
#[derive(Debug)]
pub(crate) struct Report<'s> {
    pub(crate) sources: &'s Sources,
    found: Vec<(Loc, Diagnostic)>,
    seen: std::collections::HashSet<(Loc, String, String)>,
    /// Diagnostics beyond the cap are counted, not kept: a wrong file can have thousands.
    dropped: usize,
}

/// More diagnostics than this are summarised as "… and N more".
pub(crate) const MAX_DIAGNOSTICS: usize = 200;

impl<'s> Report<'s> {
    pub(crate) fn new(sources: &'s Sources) -> Report<'s> {
        Report {
            sources,
            found: Vec::new(),
            seen: std::collections::HashSet::new(),
            dropped: 0,
        }
    }

    pub(crate) fn error(&mut self, loc: Loc, key: &str, message: impl Into<String>) {
        let message = message.into();
        if !self.seen.insert((loc, key.to_string(), message.clone())) {
            return;
        }
        if self.found.len() >= MAX_DIAGNOSTICS {
            self.dropped += 1;
            return;
        }
        let d = Diagnostic {
            position: self.sources.position(loc),
            key: key.to_string(),
            message,
        };
        self.found.push((loc, d));
    }

    /// "expected X, found Y" with the source text of the value as Y.
    pub(crate) fn expected(&mut self, loc: Loc, key: &str, expected: &str) {
        let found = self.sources.snippet(loc);
        self.error(loc, key, format!("expected {expected}, found {found}"));
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.found.is_empty()
    }

    pub(crate) fn error_count(&self) -> usize {
        self.found.len() + self.dropped
    }

    pub(crate) fn into_diagnostics(mut self) -> Diagnostics {
        self.found
            .sort_by_key(|(loc, _)| (loc.file, loc.start, loc.end));
        let mut list: Vec<Diagnostic> = self.found.into_iter().map(|(_, d)| d).collect();
        if self.dropped > 0 {
            let position = list
                .last()
                .map(|d| d.position.clone())
                .unwrap_or_else(|| self.sources.position(Loc::new(FileId(0), 0..0)));
            list.push(Diagnostic {
                position,
                key: String::new(),
                message: format!("… and {} more errors not shown", self.dropped),
            });
        }
        Diagnostics(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters_not_bytes() {
        let f = SourceFile::new("a.toml", "a = 1\n名称 = \"甲方\"\n");
        assert_eq!(f.line_col(0), (1, 1));
        let off = f
            .text()
            .find('=')
            .map(|i| f.text()[i + 1..].find('=').map(|j| i + 1 + j));
        let second_eq = off.flatten().expect("second =");
        assert_eq!(f.line_col(second_eq), (2, 4));
        assert_eq!(f.line_col(f.text().len()), (3, 1));
    }
}
