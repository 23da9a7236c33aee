//! One module per subcommand.
pub mod check;
pub mod client;
pub mod demo;
pub mod dump;
pub mod import;
pub mod lint_filter;
pub mod man;
pub mod regex;
pub mod server;
