//! The run filter language: parsing and checking, then compiling to ClickHouse SQL.
#![no_main]

use ironsmith_filter::Filter;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(filter) = Filter::parse(text) {
        let _ = ironsmith_analytics::run_filter::compile(&filter, uuid::Uuid::nil());
        // The canonical form parses back.
        let printed = filter.to_string();
        assert!(Filter::parse(&printed).is_ok(), "{printed}");
    }
});
