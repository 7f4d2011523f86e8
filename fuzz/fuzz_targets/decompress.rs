//! Compressed request bodies: the first byte picks gzip or zstd, the rest is the body.
#![no_main]

use ironsmith_platform_backend::ingest::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((choice, wire)) = data.split_first() {
        let encoding = if choice % 2 == 0 { "gzip" } else { "zstd" };
        fuzzing::decompress(encoding, wire);
    }
});
