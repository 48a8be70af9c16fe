//! Source files and locations: every value the parser produces points back here.

use std::fmt;
use std::sync::Arc;

/// Identifies one source file within a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SourceId(pub u32);

/// A place in a source file: 1-based line and column (in characters), and byte offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Location {
    /// The file this location is in.
    pub source: SourceId,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub column: u32,
    /// Byte offset of the node's first byte in the file.
    pub offset: u32,
    /// Length in bytes of the node's source text (0 when unknown).
    pub len: u32,
    /// For a scalar whose source text is exactly its value (plain, or quoted without escapes on
    /// one line), the byte offset where the value's text starts; lets diagnostics point inside a
    /// string (at a `${{ vars.X }}` reference, say).
    pub content: Option<u32>,
}

impl Location {
    /// The byte span of this node in its file.
    pub fn span(&self) -> std::ops::Range<usize> {
        let start = self.offset as usize;
        start..start + self.len as usize
    }

    /// The byte span of `range` (byte offsets inside the scalar's value) in the file, when the
    /// value maps one to one onto its source text; otherwise the span of the whole node.
    pub fn span_within(&self, range: std::ops::Range<usize>) -> std::ops::Range<usize> {
        match self.content {
            Some(start) => {
                let start = start as usize;
                start + range.start..start + range.end
            }
            None => self.span(),
        }
    }
}

/// One named source text.
#[derive(Debug, Clone)]
pub struct Source {
    /// The name shown in diagnostics: a path, `<stdin>`, or a label.
    pub name: Arc<str>,
    /// The whole text.
    pub text: Arc<str>,
    /// The byte offset of each line's start, made at the first [`Source::line_of`] (only
    /// diagnostics need it, so a compile without any never pays for it).
    line_starts: std::sync::OnceLock<Vec<usize>>,
}

impl Source {
    /// A source named `name` holding `text`.
    pub fn new(name: impl Into<Arc<str>>, text: impl Into<Arc<str>>) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
            line_starts: std::sync::OnceLock::new(),
        }
    }

    /// The 1-based line and column of a byte offset, and the text of that line. Finding the
    /// line is a binary search of the lines' starts, so reporting many mistakes costs each its
    /// own line, not the text before it.
    pub fn line_of(&self, offset: usize) -> (usize, usize, &str) {
        let text = &*self.text;
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let starts = self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        });
        // `starts[0]` is 0, so at least one start is at or before `offset`.
        let line = starts.partition_point(|&start| start <= offset).max(1) - 1;
        let line_start = starts[line];
        let line_end = starts.get(line + 1).map_or(text.len(), |next| next - 1);
        let column = text[line_start..offset].chars().count() + 1;
        (
            line + 1,
            column,
            text[line_start..line_end].trim_end_matches('\r'),
        )
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// All the files of one run, so that a [`Location`] can be printed as `file:line:column`.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    sources: Vec<Source>,
}

impl SourceMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file and returns its id.
    pub fn add(&mut self, name: impl Into<Arc<str>>, text: impl Into<Arc<str>>) -> SourceId {
        let id = SourceId(u32::try_from(self.sources.len()).unwrap_or(u32::MAX));
        self.sources.push(Source::new(name, text));
        id
    }

    /// The file with this id.
    pub fn get(&self, id: SourceId) -> Option<&Source> {
        self.sources.get(id.0 as usize)
    }

    /// The name of the file with this id, or `<unknown>`.
    pub fn name(&self, id: SourceId) -> &str {
        self.get(id).map_or("<unknown>", |s| &s.name)
    }

    /// Formats a location as `file:line:column`.
    pub fn display(&self, loc: &Location) -> DisplayLocation<'_> {
        DisplayLocation {
            name: self.name(loc.source),
            loc: *loc,
        }
    }
}

/// `file:line:column`, from [`SourceMap::display`].
#[derive(Debug, Clone, Copy)]
pub struct DisplayLocation<'a> {
    name: &'a str,
    loc: Location,
}

impl fmt::Display for DisplayLocation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.name, self.loc.line, self.loc.column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line index agrees with counting newlines from the start, at every offset.
    #[test]
    fn line_of_agrees_with_counting_from_the_start() {
        let text = "a: 1\r\nbé: \"x\"\n\n  - ünï\nlast";
        let source = Source::new("t", text);
        for offset in 0..=text.len() + 2 {
            let at = floor_char_boundary(text, offset.min(text.len()));
            let before = &text[..at];
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            let line_end = text[line_start..]
                .find('\n')
                .map_or(text.len(), |i| line_start + i);
            let expected = (
                before.matches('\n').count() + 1,
                before[line_start..].chars().count() + 1,
                text[line_start..line_end].trim_end_matches('\r'),
            );
            assert_eq!(source.line_of(offset), expected, "offset {offset}");
        }
    }
}
