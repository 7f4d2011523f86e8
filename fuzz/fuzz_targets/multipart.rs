//! `/runs/multipart` bodies: parts, names, lengths, run and feedback JSON.
#![no_main]

use ironsmith_platform_backend::ingest::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fuzzing::multipart("multipart/form-data; boundary=b", data);
});
