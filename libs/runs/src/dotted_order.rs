//! Where a run sits in its trace: the one implementation of the placement rule, used by
//! `/runs`, `/runs/batch`, multipart, OTLP, the worker and the read side.
//!
//! `dotted_order` is one `<timestamp><run id>` segment per ancestor, root first.
//! A timestamp is `YYYYMMDDTHHMMSSffffffZ` (22 characters, UTC); the run id is the last 36
//! characters of its segment. A root run is its own trace and its order is its own segment;
//! a child continues its parent's trace and appends its segment to its parent's order; its
//! depth is the number of segments before its own. The validation messages are LangSmith's
//! own; clients only log them, but people read those logs.

use chrono::{DateTime, NaiveDateTime, Utc};
use uuid::Uuid;

const TIMESTAMP_LEN: usize = 22;
const UUID_LEN: usize = 36;

/// One parsed segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub time_us: i64,
    pub id: Uuid,
}

/// The segment of a run that started at `time_us`.
pub fn segment(time_us: i64, id: Uuid) -> String {
    let time = DateTime::from_timestamp_micros(time_us).unwrap_or_default();
    format!("{}{}", time.format("%Y%m%dT%H%M%S%6fZ"), id.hyphenated())
}

/// A run's place in its trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub trace_id: Uuid,
    pub dotted_order: String,
}

impl Position {
    /// A root run that started at `start_us`: its own trace.
    pub fn root(start_us: i64, id: Uuid) -> Position {
        Position {
            trace_id: id,
            dotted_order: segment(start_us, id),
        }
    }

    /// A child run that started at `start_us`, under the run at `self`.
    pub fn child(&self, start_us: i64, id: Uuid) -> Position {
        Position {
            trace_id: self.trace_id,
            dotted_order: child_order(&self.dotted_order, start_us, id),
        }
    }
}

/// The order of a run that started at `start_us`, under a parent whose order is
/// `parent_dotted_order`.
pub fn child_order(parent_dotted_order: &str, start_us: i64, id: Uuid) -> String {
    format!("{parent_dotted_order}.{}", segment(start_us, id))
}

/// The ancestors of a run, root first, from its dotted order (malformed segments skipped).
pub fn ancestors(dotted_order: &str) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = dotted_order
        .split('.')
        .filter_map(|part| part.split_once('Z'))
        .filter_map(|(_, id)| Uuid::try_parse(id).ok())
        .collect();
    ids.pop();
    ids
}

/// Parses every segment, or names the first that is malformed.
pub fn parse(dotted_order: &str) -> Result<Vec<Segment>, String> {
    dotted_order
        .split('.')
        .map(|part| {
            parse_segment(part).ok_or_else(|| {
                format!(
                    "dotted_order part '{part}' is not a {TIMESTAMP_LEN}-character timestamp \
                     (YYYYMMDDTHHMMSSffffffZ) followed by a {UUID_LEN}-character run id"
                )
            })
        })
        .collect()
}

fn parse_segment(part: &str) -> Option<Segment> {
    if part.len() != TIMESTAMP_LEN + UUID_LEN || !part.is_ascii() {
        return None;
    }
    let (stamp, id) = part.split_at(TIMESTAMP_LEN);
    let id = Uuid::try_parse(id).ok()?;
    let seconds = stamp.get(..15)?;
    let micros = stamp.get(15..21)?;
    if !stamp.ends_with('Z') || !micros.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let time = NaiveDateTime::parse_from_str(seconds, "%Y%m%dT%H%M%S").ok()?;
    let micros: i64 = micros.parse().ok()?;
    Some(Segment {
        time_us: time.and_utc().timestamp_micros() + micros,
        id,
    })
}

/// What a run says about its place in its trace.
#[derive(Debug, Clone, Copy)]
pub struct Claims<'a> {
    pub id: Uuid,
    pub trace_id: Uuid,
    pub parent_run_id: Option<Uuid>,
    pub dotted_order: &'a str,
}

/// Checks the invariants above and returns the parsed segments.
pub fn validate(claims: &Claims<'_>) -> Result<Vec<Segment>, String> {
    let Claims {
        id,
        trace_id,
        parent_run_id,
        dotted_order,
    } = *claims;
    let segments = parse(dotted_order).map_err(|reason| format!("{reason} for run_id:{id}"))?;
    match parent_run_id {
        None if segments.len() > 1 => {
            return Err(format!(
                "dotted_order must contain a single part for root runs for run_id:{id} \
                 trace_id:{trace_id} dotted_order:{dotted_order} parent_run_id:None"
            ));
        }
        Some(parent) if segments.len() < 2 => {
            return Err(format!(
                "dotted_order must contain at least two parts for child runs for run_id:{id} \
                 parent_run_id:{parent}"
            ));
        }
        Some(parent) if segments.iter().rev().nth(1).map(|s| s.id) != Some(parent) => {
            return Err(format!(
                "dotted_order's second-to-last part must be the parent for run_id:{id} \
                 parent_run_id:{parent} dotted_order:{dotted_order}"
            ));
        }
        _ => {}
    }
    if segments.last().map(|s| s.id) != Some(id) {
        return Err(format!(
            "dotted_order must end with the run's own id for run_id:{id} dotted_order:{dotted_order}"
        ));
    }
    if segments.first().map(|s| s.id) != Some(trace_id) {
        return Err(format!(
            "dotted_order must start with the trace id for run_id:{id} trace_id:{trace_id} \
             dotted_order:{dotted_order}"
        ));
    }
    for (parent, child) in segments.iter().zip(segments.iter().skip(1)) {
        if child.time_us < parent.time_us {
            return Err(format!(
                "dotted_order has timestamp {} earlier than parent timestamp {}",
                human(child.time_us),
                human(parent.time_us)
            ));
        }
    }
    Ok(segments)
}

fn human(time_us: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(time_us)
        .unwrap_or_default()
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "0193a7c4-5b1e-7c20-9d8f-2b6a1e0c4d11";
    const CHILD: &str = "0193a7c4-6f02-7a11-8e3c-99d0b1a2c3f4";

    fn id(text: &str) -> Uuid {
        Uuid::parse_str(text).expect("uuid")
    }

    fn claims(id_: &str, parent: Option<&str>, dotted: &str) -> Result<Vec<Segment>, String> {
        validate(&Claims {
            id: id(id_),
            trace_id: id(ROOT),
            parent_run_id: parent.map(id),
            dotted_order: dotted,
        })
    }

    #[test]
    fn the_spec_example_round_trips() {
        let dotted = format!("20250301T101500123456Z{ROOT}.20250301T101500130002Z{CHILD}");
        let segments = claims(CHILD, Some(ROOT), &dotted).expect("valid");
        assert_eq!(segments.len(), 2);
        let rebuilt: Vec<String> = segments.iter().map(|s| segment(s.time_us, s.id)).collect();
        assert_eq!(rebuilt.join("."), dotted);
    }

    #[test]
    fn js_counter_digits_are_ordinary_microseconds() {
        let dotted = format!("20250301T101500123001Z{ROOT}.20250301T101500123002Z{CHILD}");
        assert!(claims(CHILD, Some(ROOT), &dotted).is_ok());
    }

    #[test]
    fn the_upstream_messages() {
        let two = format!("20250301T101500123456Z{ROOT}.20250301T101500130002Z{CHILD}");
        assert_eq!(
            claims(CHILD, None, &two).expect_err("root with two parts"),
            format!(
                "dotted_order must contain a single part for root runs for run_id:{CHILD} \
                 trace_id:{ROOT} dotted_order:{two} parent_run_id:None"
            )
        );
        let one = format!("20250301T101500123456Z{CHILD}");
        assert_eq!(
            claims(CHILD, Some(ROOT), &one).expect_err("child with one part"),
            format!(
                "dotted_order must contain at least two parts for child runs for run_id:{CHILD} \
                 parent_run_id:{ROOT}"
            )
        );
        let backwards = format!("20250301T101500123456Z{ROOT}.20250301T101500000001Z{CHILD}");
        assert_eq!(
            claims(CHILD, Some(ROOT), &backwards).expect_err("earlier than parent"),
            "dotted_order has timestamp 2025-03-01 10:15:00.000001 earlier than parent \
             timestamp 2025-03-01 10:15:00.123456"
        );
    }

    #[test]
    fn malformed_parts_and_wrong_ids_are_named() {
        for dotted in [
            format!("20250301T101500123Z{ROOT}"),
            format!("20250301T1015001234567{ROOT}"),
            format!("20251301T101500123456Z{ROOT}"),
            format!("20250301T101500123456Z{}", &ROOT[..35]),
            String::new(),
        ] {
            let error = claims(ROOT, None, &dotted).expect_err(&dotted);
            assert!(error.contains("is not a 22-character timestamp"), "{error}");
            assert!(error.contains(ROOT), "names the run: {error}");
        }
        let error =
            claims(CHILD, None, &format!("20250301T101500123456Z{ROOT}")).expect_err("own id last");
        assert!(error.contains("must end with the run's own id"), "{error}");
        let error = claims(ROOT, None, &format!("20250301T101500123456Z{ROOT}"));
        assert!(error.is_ok());
        let other = "0193a7c4-0000-7000-8000-000000000000";
        let error = claims(
            CHILD,
            Some(other),
            &format!("20250301T101500123456Z{ROOT}.20250301T101500130002Z{CHILD}"),
        )
        .expect_err("parent mismatch");
        assert!(error.contains("second-to-last"), "{error}");
    }
}
