//! The one text form of a time in threadlog: RFC 3339 in UTC with exactly six fractional
//! digits and `Z`, e.g. `2026-11-24T08:15:01.123456Z`. Fixed width, so stored times sort
//! as strings. Parsing accepts any RFC 3339 time. Nothing here reads the clock (the server
//! does, in `threadlog::time::now`), and nothing here knows where a time is stored.

use chrono::{DateTime, SecondsFormat, Utc};

/// `t` in the one text form.
pub fn format(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Microseconds since the epoch in the one text form (empty if out of range).
pub fn format_micros(at: i64) -> String {
    DateTime::from_timestamp_micros(at)
        .map(|t| format(&t))
        .unwrap_or_default()
}

/// Any RFC 3339 time, in UTC.
pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// Fixed width, so text order is time order; and it reads back to the same instant.
        #[test]
        fn text_order_is_time_order(a in 0i64..253_402_300_799_999_999, b in 0i64..253_402_300_799_999_999) {
            let (ta, tb) = (super::format_micros(a), super::format_micros(b));
            prop_assert_eq!(ta.len(), 27);
            prop_assert_eq!(ta.cmp(&tb), a.cmp(&b));
            prop_assert_eq!(super::parse(&ta).unwrap().timestamp_micros(), a);
        }
    }
}
