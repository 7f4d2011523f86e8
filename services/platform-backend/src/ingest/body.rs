//! Reading an ingestion body: identity, zstd or gzip, capped twice. The body as
//! sent may not exceed `ingest.max_body_bytes`, and decompression stops at
//! `ingest.max_decompressed_bytes`, so a compression bomb is refused with a 413 after expanding
//! at most the cap, never in full. zstd frames without a declared content size decode as a
//! stream; concatenated gzip members are read through.
//!
//! Decompression is CPU work and holds up to the decoded cap in memory, so it runs off the async
//! runtime (a blocking thread) and only within a process-wide budget (`ingest.max_decoding_bytes`):
//! each compressed body reserves the decoded cap while it is decoded, and bodies beyond the
//! budget wait their turn instead of exhausting memory or starving other requests.

use std::io::Read;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use ironsmith_config::IngestConfig;
use tokio::sync::Semaphore;

use super::error::IngestError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Identity,
    Gzip,
    Zstd,
}

fn encoding(headers: &HeaderMap) -> Result<Encoding, IngestError> {
    let Some(value) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(Encoding::Identity);
    };
    let value = value.to_str().unwrap_or("").trim().to_ascii_lowercase();
    match value.as_str() {
        "" | "identity" => Ok(Encoding::Identity),
        "gzip" | "x-gzip" => Ok(Encoding::Gzip),
        "zstd" => Ok(Encoding::Zstd),
        other => Err(IngestError::UnsupportedMedia(format!(
            "Content-Encoding '{other}' is not supported; send identity, gzip or zstd"
        ))),
    }
}

fn header_number(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The process-wide allowance of decompressed bytes in flight, in KiB permits.
#[derive(Clone)]
pub struct DecodeBudget {
    permits: Arc<Semaphore>,
    per_body: u32,
}

impl DecodeBudget {
    pub fn new(limits: &IngestConfig) -> Self {
        let kib = |bytes: usize| u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX);
        let total = kib(limits.max_decoding_bytes).max(1);
        DecodeBudget {
            permits: Arc::new(Semaphore::new(total as usize)),
            per_body: kib(limits.max_decompressed_bytes).clamp(1, total),
        }
    }
}

/// The decoded body, within both caps.
pub async fn read(
    headers: &HeaderMap,
    body: Body,
    limits: &IngestConfig,
    budget: &DecodeBudget,
) -> Result<Bytes, IngestError> {
    let encoding = encoding(headers)?;
    let chunked = headers
        .get(header::TRANSFER_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    metrics::counter!(
        "ingest_bodies_total",
        "encoding" => match encoding {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
            Encoding::Zstd => "zstd",
        },
        "chunked" => if chunked { "true" } else { "false" },
    )
    .increment(1);
    let wire_cap = limits.max_body_bytes;
    let decoded_cap = limits.max_decompressed_bytes;
    if let Some(length) = header_number(headers, "content-length")
        && length > wire_cap as u64
    {
        return Err(too_large_wire(wire_cap));
    }
    // The client's own statement of the decompressed size: a hint for early refusal only.
    if let Some(size) = header_number(headers, "x-pre-compressed-size")
        && size > decoded_cap as u64
    {
        return Err(too_large_decoded(decoded_cap));
    }

    let mut wire = BytesMut::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            if ironsmith_http::is_body_too_large(&e) {
                too_large_wire(wire_cap)
            } else {
                IngestError::BadRequest(format!("could not read the request body: {e}"))
            }
        })?;
        if wire.len() + chunk.len() > wire_cap {
            return Err(too_large_wire(wire_cap));
        }
        wire.extend_from_slice(&chunk);
    }
    let wire = wire.freeze();
    if encoding == Encoding::Identity {
        if wire.len() > decoded_cap {
            return Err(too_large_decoded(decoded_cap));
        }
        return Ok(wire);
    }
    let _reserved = budget
        .permits
        .acquire_many(budget.per_body)
        .await
        .map_err(IngestError::internal)?;
    tokio::task::spawn_blocking(move || decode(encoding, &wire, decoded_cap))
        .await
        .map_err(IngestError::internal)?
}

/// Decompresses `wire`, sent with `content_encoding`, within `cap` (a blocking call).
pub fn decompress(content_encoding: &str, wire: &[u8], cap: usize) -> Result<Bytes, IngestError> {
    let mut headers = HeaderMap::new();
    if let Ok(value) = content_encoding.parse() {
        headers.insert(header::CONTENT_ENCODING, value);
    }
    decode(encoding(&headers)?, wire, cap)
}

/// Decompresses `wire` within `cap` (a blocking call).
fn decode(encoding: Encoding, wire: &[u8], cap: usize) -> Result<Bytes, IngestError> {
    match encoding {
        Encoding::Identity => Ok(Bytes::copy_from_slice(wire)),
        Encoding::Zstd => {
            let decoder = zstd::stream::read::Decoder::new(wire)
                .map_err(|e| IngestError::BadRequest(format!("the body is not valid zstd: {e}")))?;
            decode_capped(decoder, cap, "zstd")
        }
        Encoding::Gzip => decode_capped(flate2::read::MultiGzDecoder::new(wire), cap, "gzip"),
    }
}

/// Reads a decoder to its end, refusing as soon as the output passes `cap`.
fn decode_capped(mut decoder: impl Read, cap: usize, name: &str) -> Result<Bytes, IngestError> {
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = decoder
            .read(&mut chunk)
            .map_err(|e| IngestError::BadRequest(format!("the body is not valid {name}: {e}")))?;
        if n == 0 {
            return Ok(Bytes::from(out));
        }
        if out.len() + n > cap {
            return Err(too_large_decoded(cap));
        }
        out.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

fn too_large_wire(cap: usize) -> IngestError {
    IngestError::TooLarge(format!(
        "the request body exceeds {cap} bytes; send smaller batches"
    ))
}

fn too_large_decoded(cap: usize) -> IngestError {
    IngestError::TooLarge(format!(
        "the decompressed request body exceeds {cap} bytes; send smaller batches"
    ))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn limits(wire: usize, decoded: usize) -> IngestConfig {
        IngestConfig {
            max_body_bytes: wire,
            max_decompressed_bytes: decoded,
            max_runs_per_request: 1000,
            sdk_batch_runs: 100,
            sdk_batch_bytes: 1 << 20,
            max_runs_per_trace: 25_000,
            offload_threshold_bytes: 20_480,
            max_payload_bytes: 1 << 20,
            max_field_bytes: 1 << 20,
            object_write_concurrency: 4,
            max_decoding_bytes: 1 << 30,
            shards: 1,
            lease_ms: 1000,
            batch_rows: 100,
            linger_ms: 10,
            price_refresh_secs: 60,
        }
    }

    fn budget() -> DecodeBudget {
        DecodeBudget::new(&limits(1 << 20, 8 << 20))
    }

    fn headers(encoding: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_ENCODING, encoding.parse().expect("header"));
        headers
    }

    #[tokio::test]
    async fn zstd_without_content_size_and_gzip_decode() {
        let text = b"--b\r\nhello\r\n--b--\r\n".repeat(100);
        let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 1).expect("encoder");
        encoder.include_contentsize(false).expect("flag");
        encoder.write_all(&text).expect("write");
        let zstd = encoder.finish().expect("finish");
        let out = read(
            &headers("zstd"),
            Body::from(zstd),
            &limits(1 << 20, 1 << 20),
            &budget(),
        )
        .await
        .expect("zstd");
        assert_eq!(&out[..], &text[..]);

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&text).expect("write");
        let gz = gz.finish().expect("finish");
        let out = read(
            &headers("gzip"),
            Body::from(gz),
            &limits(1 << 20, 1 << 20),
            &budget(),
        )
        .await
        .expect("gzip");
        assert_eq!(&out[..], &text[..]);
    }

    #[tokio::test]
    async fn a_bomb_stops_at_the_cap() {
        // 1 GiB of zeros compresses to about 32 KiB.
        let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 3).expect("encoder");
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..1024 {
            encoder.write_all(&zeros).expect("write");
        }
        let bomb = encoder.finish().expect("finish");
        assert!(bomb.len() < 1 << 20, "{}", bomb.len());
        let error = read(
            &headers("zstd"),
            Body::from(bomb),
            &limits(1 << 20, 8 << 20),
            &budget(),
        )
        .await
        .expect_err("refused");
        assert!(matches!(error, IngestError::TooLarge(_)), "{error:?}");
    }

    #[tokio::test]
    async fn caps_and_bad_encodings() {
        let error = read(
            &HeaderMap::new(),
            Body::from(vec![b'x'; 2048]),
            &limits(1024, 4096),
            &budget(),
        )
        .await
        .expect_err("wire cap");
        assert!(matches!(error, IngestError::TooLarge(_)));
        let error = read(
            &headers("br"),
            Body::from("x"),
            &limits(1024, 4096),
            &budget(),
        )
        .await
        .expect_err("brotli");
        assert!(matches!(error, IngestError::UnsupportedMedia(_)));
        let error = read(
            &headers("zstd"),
            Body::from("not zstd"),
            &limits(1024, 4096),
            &budget(),
        )
        .await
        .expect_err("garbage");
        assert!(matches!(error, IngestError::BadRequest(_)), "{error:?}");
    }
}
