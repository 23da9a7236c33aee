//! Log-line matching: fail2ban's tags, Python-to-Rust regex translation, the hybrid linear/backtracking engine.
#![deny(missing_docs)]
