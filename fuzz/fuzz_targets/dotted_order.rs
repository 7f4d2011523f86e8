//! `dotted_order` strings: parsing, and the checks against a run's claimed ids.
#![no_main]

use ironsmith_runs::dotted_order::{self, Claims};
use libfuzzer_sys::fuzz_target;
use uuid::Uuid;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(segments) = dotted_order::parse(text)
        && let (Some(first), Some(last)) = (segments.first(), segments.last())
    {
        let parent = segments.len().checked_sub(2).and_then(|i| segments.get(i));
        let _ = dotted_order::validate(&Claims {
            id: last.id,
            trace_id: first.id,
            parent_run_id: parent.map(|p| p.id),
            dotted_order: text,
        });
    }
    let _ = dotted_order::validate(&Claims {
        id: Uuid::nil(),
        trace_id: Uuid::nil(),
        parent_run_id: None,
        dotted_order: text,
    });
});
