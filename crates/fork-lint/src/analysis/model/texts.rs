//! The texts of a package's files, and name lookups over them: which files define or
//! mention a name, answered by searching the texts (`memmem`) and, once lookups have
//! searched many times the package's size, by an index of where each identifier is.
//! Either way a lookup costs time linear in what it searches; nothing is parsed here.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::path::PathBuf;
use std::sync::Arc;

use crate::source::SourceFile;

/// Whether `text` has `needle` as a word right after one of `introducers` (or
/// anywhere, when `introducers` is empty).
pub(super) fn defines(text: &str, needle: &str, introducers: &[&str]) -> bool {
    memchr::memmem::find_iter(text.as_bytes(), needle.as_bytes())
        .any(|at| defines_at(text, at, needle, introducers))
}

/// Whether the occurrence of `needle` at byte `at` of `text` is a whole word right
/// after one of `introducers` (or any whole word, when `introducers` is empty).
pub(super) fn defines_at(text: &str, at: usize, needle: &str, introducers: &[&str]) -> bool {
    let bytes = text.as_bytes();
    if bytes.get(at..at + needle.len()) != Some(needle.as_bytes()) {
        return false;
    }
    let end = at + needle.len();
    let word_end = bytes.get(end).is_none_or(|b| !is_ident_byte(*b));
    let word_start = at == 0 || !is_ident_byte(bytes[at - 1]);
    if !(word_end && word_start) {
        return false;
    }
    if introducers.is_empty() {
        return true;
    }
    let before = text[..at].trim_end();
    let before = before.strip_suffix("mut").map_or(before, str::trim_end);
    // `lazy_static! { static ref NAME: … }`
    let before = if introducers.contains(&"ref") {
        before.strip_suffix("ref").map_or(before, |b| {
            if b.trim_end().ends_with("static") {
                "ref"
            } else {
                before
            }
        })
    } else {
        before
    };
    introducers.iter().any(|i| {
        before.ends_with(i)
            && before[..before.len() - i.len()]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric() && c != '_')
    })
}

/// Words the index leaves out (keywords: never a name looked up, and the most
/// frequent words); a lookup of one of them searches the texts instead.
fn unindexed_word(word: &[u8]) -> bool {
    matches!(
        word,
        b"as"
            | b"break"
            | b"const"
            | b"continue"
            | b"crate"
            | b"else"
            | b"enum"
            | b"extern"
            | b"false"
            | b"fn"
            | b"for"
            | b"if"
            | b"impl"
            | b"in"
            | b"let"
            | b"loop"
            | b"match"
            | b"mod"
            | b"move"
            | b"mut"
            | b"pub"
            | b"ref"
            | b"return"
            | b"self"
            | b"Self"
            | b"static"
            | b"struct"
            | b"super"
            | b"trait"
            | b"true"
            | b"type"
            | b"unsafe"
            | b"use"
            | b"where"
            | b"while"
            | b"dyn"
            | b"async"
            | b"await"
    )
}

/// Whether lookups of `needle` can be answered by the index: an ASCII identifier
/// (a maximal run of identifier bytes, as `defines` sees words) that is indexed.
fn indexable(needle: &str) -> bool {
    !needle.is_empty()
        && needle.bytes().all(is_ident_byte)
        && !needle.as_bytes()[0].is_ascii_digit()
        && !unindexed_word(needle.as_bytes())
}

/// A hasher for keys that are already hashes.
#[derive(Default)]
struct WordHasher(u64);

impl std::hash::Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

fn word_hash(word: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in word {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^ (h >> 29)
}

/// A file's text: the `SourceFile` of a parsed file, or the bare text of one read
/// only to be searched.
pub enum Text {
    Source(Arc<SourceFile>),
    Raw(Box<str>),
}

impl Text {
    pub fn as_str(&self) -> &str {
        match self {
            Text::Source(s) => &s.text,
            Text::Raw(r) => r,
        }
    }
}

/// Lookups search the package this many times over before the word index is built.
const INDEX_AFTER: usize = 16;

type WordIndex = HashMap<u64, Vec<(u32, u32)>, BuildHasherDefault<WordHasher>>;

/// The files of a package, read once on the first cross-file lookup, and where the
/// words are in them.
///
/// A lookup searches the texts of its crate's files (`memmem`, fast) until lookups
/// have searched [`INDEX_AFTER`] times the package's size; then an index of where
/// each identifier occurs is built (one pass), and lookups read only the files that
/// hold the word. Either way the work is linear in the package's size: searching
/// every file at every lookup made many lookups quadratic, and an index built for
/// every package costs more than the few lookups most packages need.
#[derive(Default)]
pub struct PackageTexts {
    /// The package's files, in walk order.
    pub paths: Vec<PathBuf>,
    /// Each file's name as shown to users.
    pub names: Vec<String>,
    pub ids: HashMap<PathBuf, u32>,
    /// Each file's crates (indices into `crates`): a module file can be part of
    /// several targets (`tests/common/mod.rs` of every test).
    crates_of: Vec<Vec<u32>>,
    /// Crate keys (see `Target::key`), their indices, and the files of each (in order).
    crates: Vec<String>,
    crate_ids: HashMap<String, u32>,
    files_of: Vec<Vec<u32>>,
    /// `None`: unreadable or not UTF-8.
    texts: Vec<Option<Text>>,
    total_bytes: usize,
    searched_bytes: usize,
    /// A file too large for 32-bit offsets: no index, lookups always search.
    too_large: bool,
    /// Word hash → (file, byte offset) of each whole-word occurrence, in file order.
    words: Option<WordIndex>,
}

impl PackageTexts {
    /// Adds a file, part of the crates `crate_keys`.
    pub fn add_file(
        &mut self,
        path: PathBuf,
        name: String,
        crate_keys: &[String],
        text: Option<Text>,
    ) {
        let id = self.paths.len() as u32;
        let mut crates = Vec::with_capacity(crate_keys.len());
        for key in crate_keys {
            let krate = match self.crate_ids.get(key) {
                Some(&i) => i,
                None => {
                    let i = self.crates.len() as u32;
                    self.crate_ids.insert(key.clone(), i);
                    self.crates.push(key.clone());
                    self.files_of.push(Vec::new());
                    i
                }
            };
            if !crates.contains(&krate) {
                crates.push(krate);
                self.files_of[krate as usize].push(id);
            }
        }
        self.ids.insert(path.clone(), id);
        self.paths.push(path);
        self.names.push(name);
        self.crates_of.push(crates);
        let len = text.as_ref().map_or(0, |t| t.as_str().len());
        self.total_bytes += len;
        if u32::try_from(len).is_err() {
            self.too_large = true;
            self.words = None;
        }
        if let (Some(words), Some(t)) = (self.words.as_mut(), &text) {
            index_words(words, id, t.as_str());
        }
        self.texts.push(text);
    }

    /// The text of file `id`.
    pub fn text(&self, id: u32) -> Option<&str> {
        self.texts[id as usize].as_ref().map(Text::as_str)
    }

    /// Every crate key of the package.
    pub fn all_crates(&self) -> Vec<&str> {
        self.crates.iter().map(String::as_str).collect()
    }

    /// The crate keys of a file.
    pub fn crates_of(&self, id: u32) -> Vec<&str> {
        self.crates_of[id as usize]
            .iter()
            .map(|&c| self.crates[c as usize].as_str())
            .collect()
    }

    /// The text of file `id` as a `SourceFile`, made once (the text moves into it).
    pub fn source(&mut self, id: u32) -> Option<Arc<SourceFile>> {
        let slot = &mut self.texts[id as usize];
        let source = match slot.take()? {
            Text::Raw(raw) => Arc::new(SourceFile::new(
                self.paths[id as usize].clone(),
                self.names[id as usize].clone(),
                raw.into_string(),
            )),
            Text::Source(source) => source,
        };
        *slot = Some(Text::Source(source.clone()));
        Some(source)
    }

    /// The files of the crates `keys` in which `needle` occurs as a whole word after
    /// one of `introducers` (see `defines`), in file order (ids).
    pub fn defining(&mut self, keys: &[&str], needle: &str, introducers: &[&str]) -> Vec<u32> {
        let mut same: Vec<u32> = keys
            .iter()
            .filter_map(|k| self.crate_ids.get(*k).copied())
            .collect();
        same.sort_unstable();
        same.dedup();
        let crates_of = &self.crates_of;
        let in_crate = |file: u32| {
            crates_of[file as usize]
                .iter()
                .any(|c| same.binary_search(c).is_ok())
        };
        let index_pays = self.searched_bytes > INDEX_AFTER * self.total_bytes.max(1 << 16);
        if self.words.is_none() && index_pays && indexable(needle) && !self.too_large {
            let mut words = WordIndex::default();
            for (id, t) in self.texts.iter().enumerate() {
                if let Some(t) = t {
                    index_words(&mut words, id as u32, t.as_str());
                }
            }
            self.words = Some(words);
        }
        let mut out = Vec::new();
        match &self.words {
            Some(words) if indexable(needle) => {
                let occurrences = words
                    .get(&word_hash(needle.as_bytes()))
                    .map_or(&[][..], Vec::as_slice);
                let mut last = None;
                for &(file, at) in occurrences {
                    if last == Some(file) || !in_crate(file) {
                        continue;
                    }
                    let Some(text) = &self.texts[file as usize] else {
                        continue;
                    };
                    if defines_at(text.as_str(), at as usize, needle, introducers) {
                        last = Some(file);
                        out.push(file);
                    }
                }
            }
            _ => {
                let finder = memchr::memmem::Finder::new(needle.as_bytes());
                let mut files: Vec<u32> = same
                    .iter()
                    .flat_map(|&c| self.files_of[c as usize].iter().copied())
                    .collect();
                files.sort_unstable();
                let mut searched = 0;
                for file in files {
                    let Some(text) = &self.texts[file as usize] else {
                        continue;
                    };
                    let text = text.as_str();
                    searched += text.len();
                    if finder
                        .find_iter(text.as_bytes())
                        .any(|at| defines_at(text, at, needle, introducers))
                    {
                        out.push(file);
                    }
                }
                self.searched_bytes += searched;
            }
        }
        out
    }
}

/// Adds the whole-word occurrences of identifiers in `text` (file `id`) to `words`.
fn index_words(words: &mut WordIndex, id: u32, text: &str) {
    for (start, word) in ident_words(text) {
        let word = word.as_bytes();
        if word[0].is_ascii_digit() || unindexed_word(word) {
            continue;
        }
        words
            .entry(word_hash(word))
            .or_default()
            .push((id, start as u32));
    }
}

pub(super) fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The maximal runs of ASCII identifier bytes in `text`, with their byte offsets.
fn ident_words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() && !is_ident_byte(bytes[i]) {
            i += 1;
        }
        if i == bytes.len() {
            return None;
        }
        let start = i;
        while i < bytes.len() && is_ident_byte(bytes[i]) {
            i += 1;
        }
        Some((start, &text[start..i]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definition_search() {
        assert!(defines("pub fn helper() {}", "helper", &["fn"]));
        assert!(defines("fn  helper<T>()", "helper", &["fn"]));
        assert!(!defines("helper();", "helper", &["fn"]));
        assert!(!defines("fn helper2()", "helper", &["fn"]));
        assert!(!defines("fn my_helper()", "helper", &["fn"]));
        assert!(defines(
            "static mut COUNTER: u32 = 0;",
            "COUNTER",
            &["static"]
        ));
        assert!(!defines("cfn helper()", "helper", &["fn"]));
    }
}
