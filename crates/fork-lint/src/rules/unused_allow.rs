//! FL100: suppression comments that suppress nothing.

crate::rules::declare_rule! {
    /// ## What it does
    /// Reports a suppression comment that suppresses nothing.
    ///
    /// Reports a `// fork-lint: allow(...)` or `// fork-lint: allow-file(...)` comment
    /// that suppresses no finding. Reported only with `--report-unused-allows` (or
    /// `report-unused-allows = true` in the configuration).
    ///
    /// ## Why is this bad
    /// A suppression outlives the hazard it was written for: once the code is fixed or
    /// moved, the stale comment silently hides the next finding on that line.
    ///
    /// ## Example
    /// ```rust,ignore
    /// // fork-lint: allow(FL004) -- the child only calls write(2)
    /// let n = unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
    /// ```
    ///
    /// ## Use instead
    /// Delete the comment, or move it to the line of the finding it is meant for.
    ///
    /// ## References
    /// - [Ruff's RUF100](https://docs.astral.sh/ruff/rules/unused-noqa/), the same idea
    pub static UNUSED_ALLOW = {
        code: "FL100",
        name: "unused-allow",
        severity: Warning,
        check: None,
    };
}
