//! OTLP/JSON export bodies, mapped to run operations.
#![no_main]

use ironsmith_platform_backend::ingest::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fuzzing::otlp(data, true);
});
