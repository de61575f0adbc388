//! kefu's command line: thin commands over `kefu-core` (pure domain) and
//! `kefu-store` (storage). Each command reads its input, calls the library,
//! prints the outcome; errors a user can fix exit with code 2.

pub mod cli;
mod files;
