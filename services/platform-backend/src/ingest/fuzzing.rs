//! Entry points for the fuzz targets (`fuzz/`) and their regression corpus, which runs with the
//! tests: each feeds untrusted bytes through one ingestion parser to its end, exactly as a
//! request would. Refusing the input is an answer; a panic, a hang or runaway memory is a
//! finding.

use bytes::Bytes;

use super::{body, multipart, otel, wire_validate};

/// The longest body the fuzzers decode (the decoded-body cap they run under).
pub const CAP: usize = 1 << 20;

/// An OTLP export body (protobuf, or OTLP/JSON when `json`), decoded and mapped to validated
/// run operations.
pub fn otlp(bytes: &[u8], json: bool) -> usize {
    otel::fuzz(bytes, json, 1_000)
}

/// A `/runs/multipart` body under `content_type`, parsed and every operation validated.
pub fn multipart(content_type: &str, bytes: &[u8]) -> usize {
    let parsed = futures::executor::block_on(multipart::parse(
        content_type,
        Bytes::copy_from_slice(bytes),
        0,
    ));
    match parsed {
        Ok(parsed) => parsed
            .ops
            .into_iter()
            .filter_map(|(mut op, _)| wire_validate(&mut op).then_some(()))
            .count(),
        Err(_) => 0,
    }
}

/// A compressed body (`gzip`, `zstd`, or anything else, which is refused), decoded within `CAP`.
pub fn decompress(encoding: &str, wire: &[u8]) -> usize {
    body::decompress(encoding, wire, CAP).map_or(0, |b| b.len())
}
