//! The one timestamp form we emit: naive UTC with microseconds,
//! `2025-03-01T10:15:00.123456`, the upstream form both SDKs read as UTC.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serializer};

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

/// Reads a timestamp this API emitted (or any form [`parse`] takes), for clients of the typed
/// answers: `#[serde(deserialize_with = "timestamp::deserialize")]`.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let text = String::deserialize(d)?;
    parse(&text).ok_or_else(|| serde::de::Error::custom(format!("'{text}' is not a timestamp")))
}

/// Reads an optional timestamp (`null` is none).
pub fn deserialize_option<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(text) => parse(&text)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("'{text}' is not a timestamp"))),
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

/// Parses a timestamp in any form the SDKs send: RFC 3339 with `Z` or an offset (the
/// fraction optional), naive ISO (UTC), or a space where a `+` of the offset was decoded away.
/// Epoch numbers arrive as JSON numbers; see [`from_epoch`].
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.to_utc());
    }
    // `2025-03-01T10:15:00 00:00`: a `+` decoded to a space in a query string.
    if let Some((head, offset)) = text.rsplit_once(' ')
        && offset.len() == 5
        && offset.as_bytes().get(2) == Some(&b':')
        && let Ok(t) = DateTime::parse_from_rfc3339(&format!("{head}+{offset}"))
    {
        return Some(t.to_utc());
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc());
        }
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return date.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    // A number sent as a string.
    text.parse::<f64>().ok().and_then(from_epoch)
}

/// An epoch number: above 1e11 it counts milliseconds, otherwise seconds; fractions allowed.
pub fn from_epoch(value: f64) -> Option<DateTime<Utc>> {
    if !value.is_finite() {
        return None;
    }
    let micros = if value.abs() > 1e11 {
        value * 1e3
    } else {
        value * 1e6
    };
    DateTime::from_timestamp_micros(micros.round() as i64)
}

/// Microseconds since the epoch.
pub fn to_micros(t: &DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The inverse of [`to_micros`]; out-of-range values clamp to the epoch.
pub fn from_micros(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

#[cfg(test)]
mod parse_tests {
    use super::{format, parse};

    #[test]
    fn every_input_form_of_the_spec() {
        let expect = "2025-03-01T10:15:00.123456";
        for text in [
            "2025-03-01T10:15:00.123456Z",
            "2025-03-01T10:15:00.123456+00:00",
            "2025-03-01T11:15:00.123456+01:00",
            "2025-03-01T10:15:00.123456",
            "2025-03-01T10:15:00.123456 00:00",
        ] {
            assert_eq!(
                parse(text).map(|t| format(&t)).as_deref(),
                Some(expect),
                "{text}"
            );
        }
        assert_eq!(
            parse("2025-03-01T10:15:00+00:00")
                .map(|t| format(&t))
                .as_deref(),
            Some("2025-03-01T10:15:00.000000")
        );
        // Epoch numbers: milliseconds above 1e11, seconds below.
        assert_eq!(
            parse("1740824100123").map(|t| format(&t)).as_deref(),
            Some("2025-03-01T10:15:00.123000")
        );
        assert_eq!(
            parse("1740824100.5").map(|t| format(&t)).as_deref(),
            Some("2025-03-01T10:15:00.500000")
        );
        assert!(parse("yesterday").is_none());
    }
}

/// The API document's schema of a timestamp read leniently: an RFC 3339 date-time (with or
/// without a zone) or a number of seconds or milliseconds since the Unix epoch, or null. For
/// `#[schema(schema_with = timestamp::lenient_schema)]`.
pub fn lenient_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{
        KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
    };
    Schema::OneOf(
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
            )
            // Seconds or milliseconds up to the end of year 9999.
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Number)
                    .minimum(Some(0))
                    .maximum(Some(253_402_300_799_999_i64)),
            )
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .build(),
    )
}
