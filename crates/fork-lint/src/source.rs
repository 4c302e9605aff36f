//! Source files and the conversion between proc-macro2 line/column pairs, byte
//! offsets and the 1-based, character-counted positions every output uses.

use std::path::PathBuf;

use crate::diagnostic::Position;

/// One file's text, with the index needed to turn spans into positions.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SourceFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The path shown to users.
    pub name: String,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(path: PathBuf, name: String, text: String) -> SourceFile {
        let line_starts = std::iter::once(0)
            .chain(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1))
            .collect();
        SourceFile {
            path,
            name,
            text,
            line_starts,
        }
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// The text of a 1-based line, without its line terminator.
    pub fn line_text(&self, line: usize) -> &str {
        let Some(&start) = self.line_starts.get(line.wrapping_sub(1)) else {
            return "";
        };
        let end = self
            .line_starts
            .get(line)
            .map_or(self.text.len(), |&e| e - 1);
        self.text[start..end.max(start)].trim_end_matches('\r')
    }

    /// Position of a proc-macro2 line (1-based) and column (0-based, in characters).
    /// Out-of-range input is clamped, never a panic.
    pub fn position(&self, line: usize, column0: usize) -> Position {
        let line = line.clamp(1, self.line_starts.len());
        let start = self.line_starts[line - 1];
        let rest = &self.text[start..];
        let line_end = memchr::memchr(b'\n', rest.as_bytes()).unwrap_or(rest.len());
        let offset = rest[..line_end]
            .char_indices()
            .nth(column0)
            .map_or(start + line_end, |(i, _)| start + i);
        Position {
            line,
            column: column0 + 1,
            offset,
        }
    }

    /// Position of a byte offset (clamped to the text, rounded down to a char boundary).
    pub fn position_of_offset(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self.line_starts[line - 1];
        let column = self.text[start..offset].chars().count() + 1;
        Position {
            line,
            column,
            offset,
        }
    }
}
