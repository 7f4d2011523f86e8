//! The one timestamp form we emit (API.md §3.3): naive UTC with microseconds,
//! `2025-03-01T10:15:00.123456`, the upstream form both SDKs read as UTC.

use chrono::{DateTime, Utc};
use serde::Serializer;

pub const FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6f";

pub fn format(t: &DateTime<Utc>) -> String {
    t.format(FORMAT).to_string()
}

/// For `#[serde(serialize_with = "timestamp::serialize")]`.
pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(t))
}

/// For optional timestamps.
pub fn serialize_option<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&format(t)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn emits_naive_utc_with_microseconds() {
        let t = chrono::DateTime::parse_from_rfc3339("2025-03-01T11:15:00.5+01:00")
            .expect("parse")
            .to_utc();
        assert_eq!(super::format(&t), "2025-03-01T10:15:00.500000");
    }
}
