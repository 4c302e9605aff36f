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
    /// The whole text.
    pub text: String,
    line_starts: Vec<usize>,
    /// For text that is not all ASCII: how to turn character counts into byte offsets
    /// without walking whole lines (a long line with many spans would be quadratic).
    chars: Option<CharIndex>,
}

/// Every [`CharIndex::STEP`]-th character's byte offset, and the character index of
/// every line start.
#[derive(Debug, PartialEq, Eq, Hash)]
struct CharIndex {
    checkpoints: Vec<usize>,
    line_char_starts: Vec<usize>,
}

impl CharIndex {
    const STEP: usize = 64;

    fn new(text: &str, line_starts: &[usize]) -> Option<CharIndex> {
        if text.is_ascii() {
            return None;
        }
        let mut checkpoints = Vec::with_capacity(text.len() / Self::STEP + 1);
        let mut line_char_starts = Vec::with_capacity(line_starts.len());
        let mut chars = 0;
        for (i, (at, _)) in text.char_indices().enumerate() {
            if i % Self::STEP == 0 {
                checkpoints.push(at);
            }
            while line_char_starts.len() < line_starts.len()
                && line_starts[line_char_starts.len()] <= at
            {
                line_char_starts.push(i);
            }
            chars = i + 1;
        }
        line_char_starts.resize(line_starts.len(), chars);
        Some(CharIndex {
            checkpoints,
            line_char_starts,
        })
    }

    /// The character index of a byte offset (a char boundary).
    fn char_of(&self, text: &str, offset: usize) -> usize {
        let k = self.checkpoints.partition_point(|&b| b <= offset) - 1;
        k * Self::STEP + text[self.checkpoints[k]..offset].chars().count()
    }

    /// The byte offset of a character index (the text's end past the last one).
    fn offset_of(&self, text: &str, char_index: usize) -> usize {
        let Some(&at) = self.checkpoints.get(char_index / Self::STEP) else {
            return text.len();
        };
        text[at..]
            .char_indices()
            .nth(char_index % Self::STEP)
            .map_or(text.len(), |(i, _)| at + i)
    }
}

const BOM: &str = "\u{feff}";

impl SourceFile {
    /// A file read from `path`, shown as `name`.
    pub fn new(path: PathBuf, name: String, text: String) -> SourceFile {
        let line_starts = std::iter::once(0)
            .chain(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1))
            .collect::<Vec<_>>();
        let chars = CharIndex::new(&text, &line_starts);
        SourceFile {
            path,
            name,
            text,
            line_starts,
            chars,
        }
    }

    /// How many lines (a final line without a newline counts).
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
    /// Out-of-range input is clamped, never a panic. As in rustc and proc-macro2, a
    /// byte order mark does not count as a column.
    pub fn position(&self, line: usize, column0: usize) -> Position {
        let line = line.clamp(1, self.line_starts.len());
        let mut start = self.line_starts[line - 1];
        if line == 1 && self.text.starts_with(BOM) {
            start = BOM.len();
        }
        let line_end = self
            .line_starts
            .get(line)
            .map_or(self.text.len(), |&next| next - 1)
            .max(start);
        let offset = match &self.chars {
            None => start.saturating_add(column0).min(line_end),
            Some(index) => {
                let first = index.char_of(&self.text, start);
                let end = index.char_of(&self.text, line_end);
                if first.saturating_add(column0) >= end {
                    line_end
                } else {
                    index.offset_of(&self.text, first + column0)
                }
            }
        };
        Position {
            line,
            column: column0.saturating_add(1),
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
        let mut start = self.line_starts[line - 1];
        if line == 1 && self.text.starts_with(BOM) {
            start = BOM.len().min(offset);
        }
        let column = match &self.chars {
            None => offset - start,
            Some(index) => index.char_of(&self.text, offset) - index.char_of(&self.text, start),
        } + 1;
        Position {
            line,
            column,
            offset,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> SourceFile {
        SourceFile::new(PathBuf::from("t.rs"), "t.rs".into(), text.into())
    }

    /// The straightforward conversions the index replaces.
    fn slow_offset(text: &str, line: usize, column0: usize) -> usize {
        let start: usize = text
            .split_inclusive('\n')
            .take(line - 1)
            .map(str::len)
            .sum();
        let rest = &text[start..];
        let end = rest.find('\n').unwrap_or(rest.len());
        rest[..end]
            .char_indices()
            .nth(column0)
            .map_or(start + end, |(i, _)| start + i)
    }

    #[test]
    fn positions_agree_with_walking_the_line() {
        let long = "é".repeat(200) + "x" + &"ü".repeat(100);
        for text in [
            "fn main() {}\n\tlet x = 1;\r\n",
            "ascii only\nline two\n\n",
            "héllo wörld\n日本語のテキスト = 1;\n\t\u{1F600} x",
            long.as_str(),
            "",
            "\n\n",
        ] {
            let f = file(text);
            let lines = text.split('\n').count();
            for line in 1..=lines {
                for column0 in 0..320 {
                    let p = f.position(line, column0);
                    assert_eq!(
                        p.offset,
                        slow_offset(text, line, column0),
                        "{text:?} {line}:{column0}"
                    );
                    assert_eq!(p.column, column0 + 1);
                    if p.offset < slow_offset(text, line, usize::MAX) {
                        let back = f.position_of_offset(p.offset);
                        assert_eq!((back.line, back.column), (line, column0 + 1));
                    }
                }
            }
        }
    }

    #[test]
    fn byte_order_mark_is_not_a_column() {
        let f = file("\u{feff}fn main() {}\nx");
        let p = f.position(1, 3);
        assert_eq!(&f.text[p.offset..p.offset + 4], "main");
        assert_eq!(p.column, 4);
        assert_eq!(f.position_of_offset(p.offset).column, 4);
        assert_eq!(f.position(2, 0).offset, f.text.len() - 1);
        let only = file("\u{feff}");
        assert_eq!(only.position(1, 0).offset, 3);
        assert_eq!(only.position_of_offset(3).column, 1);
    }

    #[test]
    fn out_of_range_is_clamped() {
        let f = file("ab\ncd");
        assert_eq!(f.position(0, 0).offset, 0);
        assert_eq!(f.position(9, 9).offset, 5);
        assert_eq!(f.position(1, usize::MAX).offset, 2);
        let g = file("é\nü");
        assert_eq!(g.position(1, usize::MAX).offset, 2);
        assert_eq!(g.position_of_offset(1).offset, 0);
    }
}
