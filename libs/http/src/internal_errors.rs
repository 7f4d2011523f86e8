//! Failures that can only be the server's own fault, so a handler writes `?` on them: encoding
//! a value it built, decoding a value it stored (a manifest, a sealed secret, an offloaded
//! payload), or joining a path onto a configured service address. Each answers a logged 500
//! whose cause is never shown.
//!
//! A client's request body is not decoded here: the [`crate::Json`] extractor and the
//! ingestion parsers answer its errors with a 400 or 422 that says what is wrong.

use crate::error::ApiError;

impl From<serde_json::Error> for ApiError {
    fn from(error: serde_json::Error) -> Self {
        ApiError::internal(error)
    }
}

impl From<std::string::FromUtf8Error> for ApiError {
    fn from(error: std::string::FromUtf8Error) -> Self {
        ApiError::internal(error)
    }
}

impl From<url::ParseError> for ApiError {
    fn from(error: url::ParseError) -> Self {
        ApiError::internal(error)
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    fn stored(text: &str) -> Result<serde_json::Value, ApiError> {
        Ok(serde_json::from_str(text)?)
    }

    #[test]
    fn a_stored_value_that_does_not_decode_is_a_500() {
        let error = stored("{not json").expect_err("the text is not JSON");
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(stored("{}").is_ok());
    }

    #[test]
    fn a_bad_service_address_is_a_500() {
        let base = url::Url::parse("mailto:ops@example.com").expect("a URL");
        let joined: Result<url::Url, ApiError> = base.join("runs").map_err(Into::into);
        assert_eq!(
            joined.expect_err("mailto: cannot be a base").status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
