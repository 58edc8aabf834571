//! The clock, read in one place. The one text form of a time (and its parsing) lives in
//! the core (`threadlog_core::time`), which never reads the clock; this module adds
//! [`now`] for the server and the CLI.

pub use threadlog_core::time::{format, format_micros, parse};

/// The current time in the one text form.
pub fn now() -> String {
    format(&chrono::Utc::now())
}
