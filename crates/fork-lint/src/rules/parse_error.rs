//! FL000: files that do not parse.

crate::rules::declare_rule! {
    /// ## What it does
    /// Reports a file that could not be parsed as Rust.
    ///
    /// Reports a file that could not be parsed as Rust, at the parser's line and column.
    ///
    /// ## Why is this bad
    /// A file that does not parse cannot be analysed: any hazard in it goes unreported.
    /// The file may use syntax newer than the parser, or may not be Rust at all (a
    /// template, a fixture of another tool).
    ///
    /// Files that cannot contain a fork point or a process start are skipped by the text
    /// prefilter before parsing, so their syntax errors are left to the compiler.
    ///
    /// ## Example
    /// ```rust,ignore
    /// fn main() {
    ///     let pid = unsafe { libc::fork() }
    ///     if pid == 0 {}
    /// }
    /// ```
    ///
    /// ## Use instead
    /// Fix the syntax error, or exclude the file (`exclude` in the configuration).
    ///
    /// ## References
    /// - [syn](https://docs.rs/syn), the parser fork-lint uses
    pub static PARSE_ERROR = {
        code: "FL000",
        name: "parse-error",
        severity: Error,
        check: None,
    };
}
