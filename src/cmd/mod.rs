//! One module per subcommand.
pub mod check;
pub mod client;
pub mod dump;
pub mod regex;
pub mod server;
