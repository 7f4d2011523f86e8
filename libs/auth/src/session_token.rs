//! Session tokens: HS256 JWTs naming a `login_sessions` row. The signature and expiry are
//! checked locally; revocation is checked against the row (cached, and dropped on revoke).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Issuer claim of our tokens.
pub const ISSUER: &str = "ironsmith";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionClaims {
    /// The user id.
    pub sub: Uuid,
    /// The login session id.
    pub sid: Uuid,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
}

#[derive(Clone)]
pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner")
    }
}

impl TokenSigner {
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 0;
        TokenSigner {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    pub fn sign(&self, claims: &SessionClaims) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
    }

    /// The claims of a token with a valid signature, issuer and expiry.
    pub fn verify(&self, token: &str) -> Option<SessionClaims> {
        jsonwebtoken::decode::<SessionClaims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp_from_now: i64) -> SessionClaims {
        let now = chrono::Utc::now().timestamp();
        SessionClaims {
            sub: Uuid::now_v7(),
            sid: Uuid::now_v7(),
            iat: now,
            exp: now + exp_from_now,
            iss: ISSUER.into(),
        }
    }

    #[test]
    fn tokens_round_trip_and_reject_tampering_and_expiry() {
        let signer = TokenSigner::new(b"0123456789abcdef0123456789abcdef");
        let c = claims(60);
        let token = signer.sign(&c).expect("sign");
        assert_eq!(signer.verify(&token), Some(c));

        let other = TokenSigner::new(b"another-secret-another-secret-000");
        assert_eq!(other.verify(&token), None, "foreign signature");

        let expired = signer.sign(&claims(-5)).expect("sign");
        assert_eq!(signer.verify(&expired), None, "expired");
        assert_eq!(signer.verify("not.a.jwt"), None);
    }
}
