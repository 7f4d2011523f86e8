//! Sending a prepared request to a provider: the outbound policy, retries of 429, 5xx and
//! connection failures with exponential backoff (a `retry-after` header wins), and reading the
//! streamed answer within the size and time limits.

use std::time::Duration;

use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};

use crate::providers::{Framing, Request};

/// Why a provider call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The outbound policy refused the destination.
    Blocked(String),
    /// The provider answered an error status (after the retries, for 429 and 5xx).
    Provider { status: u16, message: String },
    /// No answer: connection refused, DNS, TLS.
    Unreachable(String),
    /// The provider took too long.
    Timeout,
    /// The answer was bigger than `playground.max_response_bytes`.
    TooLarge(u64),
    /// The stream broke or reported an error midway.
    Stream(String),
}

impl Failure {
    pub fn message(&self, provider: &str) -> String {
        match self {
            Failure::Blocked(reason) => reason.clone(),
            Failure::Provider { status, message } => {
                format!("{provider} answered {status}: {message}")
            }
            Failure::Unreachable(reason) => format!("{provider} is unreachable: {reason}"),
            Failure::Timeout => format!("{provider} did not answer in time"),
            Failure::TooLarge(cap) => format!("{provider}'s answer exceeded {cap} bytes"),
            Failure::Stream(reason) => format!("{provider}'s stream failed: {reason}"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub base: Duration,
}

const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// The longest `retry-after` honoured; longer ones are reported instead.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let headers = response.headers();
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        return Some(Duration::from_millis(ms));
    }
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

fn classify(error: &reqwest::Error) -> Failure {
    if let Some(reason) = ironsmith_outbound::blocked(error) {
        Failure::Blocked(reason)
    } else if error.is_timeout() {
        Failure::Timeout
    } else {
        // The innermost cause says most (connection refused, certificate…).
        let mut cause: &dyn std::error::Error = error;
        while let Some(next) = cause.source() {
            cause = next;
        }
        Failure::Unreachable(cause.to_string())
    }
}

/// Sends `request`, retrying what is worth retrying; the successful response.
pub async fn send(
    client: &reqwest::Client,
    request: &Request,
    policy: &ironsmith_outbound::Policy,
    retry: RetryPolicy,
) -> Result<reqwest::Response, Failure> {
    policy
        .check_url(&request.url)
        .map_err(|b| Failure::Blocked(b.0))?;
    // The bytes sent are the bytes signed.
    let body = serde_json::to_vec(&request.body).map_err(|e| Failure::Stream(e.to_string()))?;
    let mut attempt = 0;
    loop {
        let mut builder = client.post(request.url.clone()).body(body.clone());
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        if let Some(aws) = &request.aws {
            for (name, value) in sign_aws(aws, request, &body)? {
                builder = builder.header(name, value);
            }
        }
        let (failure, wait) = match builder.send().await {
            Ok(response) if response.status().is_success() => return Ok(response),
            Ok(response) => {
                let status = response.status().as_u16();
                let wait = retry_after(&response);
                let body = response.text().await.unwrap_or_default();
                let failure = Failure::Provider {
                    status,
                    message: crate::providers::error_message(&body),
                };
                if status != 429 && status < 500 {
                    return Err(failure);
                }
                (failure, wait)
            }
            Err(error) => {
                let failure = classify(&error);
                if matches!(failure, Failure::Blocked(_)) {
                    return Err(failure);
                }
                (failure, None)
            }
        };
        if attempt >= retry.max_retries || wait.is_some_and(|w| w > MAX_RETRY_AFTER) {
            return Err(failure);
        }
        let backoff = retry
            .base
            .saturating_mul(1 << attempt.min(16))
            .min(MAX_BACKOFF);
        tracing::info!(attempt, ?failure, "retrying a provider call");
        tokio::time::sleep(wait.unwrap_or(backoff)).await;
        attempt += 1;
    }
}

/// The headers that sign `request` (with `body`) for AWS, now.
fn sign_aws(
    aws: &crate::providers::AwsSigning,
    request: &Request,
    body: &[u8],
) -> Result<Vec<(String, String)>, Failure> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let failed =
        |e: &dyn std::fmt::Display| Failure::Stream(format!("signing the request failed: {e}"));
    let identity = aws_credential_types::Credentials::new(
        &aws.access_key_id,
        &aws.secret_access_key,
        None,
        None,
        "workspace-secret",
    )
    .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(&aws.region)
        .name(aws.service)
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| failed(&e))?
        .into();
    let signable = SignableRequest::new(
        "POST",
        request.url.as_str(),
        request
            .headers
            .iter()
            .map(|(name, value)| (*name, value.as_str())),
        SignableBody::Bytes(body),
    )
    .map_err(|e| failed(&e))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| failed(&e))?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect())
}

/// One server-sent event of a provider's answer.
#[derive(Debug, Clone)]
pub struct ProviderEvent {
    pub event: String,
    pub data: String,
}

/// The events of a streamed answer, stopping with [`Failure::TooLarge`] past `max_bytes`.
pub fn events(
    response: reqwest::Response,
    max_bytes: u64,
    framing: Framing,
) -> std::pin::Pin<Box<dyn Stream<Item = Result<ProviderEvent, Failure>> + Send>> {
    let mut seen: u64 = 0;
    let capped = response.bytes_stream().map(move |chunk| match chunk {
        Ok(bytes) => {
            seen += bytes.len() as u64;
            if seen > max_bytes {
                Err(Failure::TooLarge(max_bytes))
            } else {
                Ok(bytes)
            }
        }
        Err(error) => Err(if error.is_timeout() {
            Failure::Timeout
        } else {
            Failure::Stream(error.to_string())
        }),
    });
    match framing {
        Framing::Sse => Box::pin(capped.eventsource().map(|item| match item {
            Ok(event) => Ok(ProviderEvent {
                event: event.event,
                data: event.data,
            }),
            Err(eventsource_stream::EventStreamError::Transport(failure)) => Err(failure),
            Err(eventsource_stream::EventStreamError::Utf8(e)) => {
                Err(Failure::Stream(e.to_string()))
            }
            Err(eventsource_stream::EventStreamError::Parser(e)) => {
                Err(Failure::Stream(e.to_string()))
            }
        })),
        Framing::AwsEventStream => Box::pin(aws_frames(capped)),
    }
}

/// AWS event stream frames, each named by its `:event-type` (an exception by
/// `exception:<:exception-type>`), its payload as text.
fn aws_frames(
    bytes: impl Stream<Item = Result<bytes::Bytes, Failure>> + Send + 'static,
) -> impl Stream<Item = Result<ProviderEvent, Failure>> + Send {
    use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
    let state = (
        Box::pin(bytes),
        bytes::BytesMut::new(),
        MessageFrameDecoder::new(),
    );
    futures::stream::unfold(Some(state), |state| async move {
        let (mut bytes, mut buffer, mut decoder) = state?;
        loop {
            match decoder.decode_frame(&mut buffer) {
                Ok(DecodedFrame::Complete(message)) => {
                    let header = |name: &str| {
                        message
                            .headers()
                            .iter()
                            .find(|h| h.name().as_str() == name)
                            .and_then(|h| h.value().as_string().ok())
                            .map(|v| v.as_str().to_owned())
                    };
                    let event = if header(":message-type").as_deref() == Some("exception") {
                        format!(
                            "exception:{}",
                            header(":exception-type").unwrap_or_default()
                        )
                    } else {
                        header(":event-type").unwrap_or_default()
                    };
                    let data = String::from_utf8_lossy(message.payload()).into_owned();
                    return Some((
                        Ok(ProviderEvent { event, data }),
                        Some((bytes, buffer, decoder)),
                    ));
                }
                Ok(DecodedFrame::Incomplete) => match bytes.next().await {
                    Some(Ok(more)) => buffer.extend_from_slice(&more),
                    Some(Err(failure)) => return Some((Err(failure), None)),
                    None => return None,
                },
                Err(error) => {
                    return Some((
                        Err(Failure::Stream(format!(
                            "a malformed event stream frame: {error}"
                        ))),
                        None,
                    ));
                }
            }
        }
    })
}
