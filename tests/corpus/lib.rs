//! Empty: this package only exists to bring its dev-dependencies' sources.
