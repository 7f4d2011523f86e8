//! Signed, expiring download URLs for run attachments (the SDKs fetch them with a
//! plain GET and no key). A URL names the object key and an expiry, and carries an HMAC-SHA256
//! of both under a key derived from the stack's signing secret, so it cannot be forged,
//! extended or pointed at another object.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct UrlSigner {
    key: Vec<u8>,
    /// Where `/public/download` is reached: the public API URL.
    base: String,
    ttl_secs: u64,
}

/// An HMAC-SHA256 keyed with `key`.
fn hmac(key: &[u8]) -> HmacSha256 {
    #[allow(clippy::expect_used)] // HMAC takes keys of any length: this cannot fail.
    HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length")
}

impl UrlSigner {
    pub fn new(secret: &str, api_url: &url::Url, ttl_secs: u64) -> Self {
        // A key of its own, so an attachment signature can never be used as anything else.
        let mut derive = hmac(secret.as_bytes());
        derive.update(b"ironsmith attachment urls v1");
        UrlSigner {
            key: derive.finalize().into_bytes().to_vec(),
            base: api_url.as_str().trim_end_matches('/').to_owned(),
            ttl_secs,
        }
    }

    fn signature(&self, key: &str, expires: i64) -> String {
        let mut mac = hmac(&self.key);
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// An absolute URL for the object `key`, valid for the configured time from `now`.
    pub fn url(&self, key: &str, now: i64) -> String {
        let expires = now + self.ttl_secs as i64;
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("key", key)
            .append_pair("expires", &expires.to_string())
            .append_pair("signature", &self.signature(key, expires))
            .finish();
        format!("{}/public/download?{query}", self.base)
    }

    /// Whether a download request is genuine and unexpired at `now`.
    pub fn verify(
        &self,
        key: &str,
        expires: i64,
        signature: &str,
        now: i64,
    ) -> Result<(), &'static str> {
        let Ok(given) = hex::decode(signature) else {
            return Err("The download link is invalid");
        };
        let mut mac = hmac(&self.key);
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac.verify_slice(&given)
            .map_err(|_| "The download link is invalid")?;
        if expires < now {
            return Err("The download link has expired");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> UrlSigner {
        UrlSigner::new(
            "secret",
            &"http://127.0.0.1:8080/api/v1/".parse().expect("url"),
            60,
        )
    }

    fn parts(url: &str) -> (String, i64, String) {
        let url: url::Url = url.parse().expect("url");
        let get = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
                .expect(name)
        };
        (
            get("key"),
            get("expires").parse().expect("expires"),
            get("signature"),
        )
    }

    #[test]
    fn a_signed_url_verifies_until_it_expires() {
        let signer = signer();
        let url = signer.url("runs/t/r/attachment a&b.png", 1000);
        assert!(url.starts_with("http://127.0.0.1:8080/api/v1/public/download?key=runs%2Ft%2Fr%2Fattachment+a%26b.png&expires=1060&signature="));
        let (key, expires, signature) = parts(&url);
        assert_eq!(signer.verify(&key, expires, &signature, 1059), Ok(()));
        assert_eq!(
            signer.verify(&key, expires, &signature, 1061),
            Err("The download link has expired")
        );
    }

    #[test]
    fn tampering_breaks_the_signature() {
        let signer = signer();
        let (key, expires, signature) = parts(&signer.url("runs/t/r/a", 1000));
        assert!(
            signer
                .verify("runs/t/r/b", expires, &signature, 1000)
                .is_err()
        );
        assert!(
            signer
                .verify(&key, expires + 3600, &signature, 1000)
                .is_err()
        );
        assert!(signer.verify(&key, expires, "00", 1000).is_err());
        let other = UrlSigner::new("other", &"http://x/api/v1".parse().expect("url"), 60);
        assert!(other.verify(&key, expires, &signature, 1000).is_err());
    }
}
