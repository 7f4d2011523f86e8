//! Signed, expiring URLs for deployment source tarballs: `langgraph deploy` PUTs the project
//! to one without an API key, and the data plane GETs it back from another. A URL names the
//! operation, the object path and an expiry, with an HMAC-SHA256 of the three under a key
//! derived from the stack's signing secret: it cannot be forged, extended, turned from a
//! download into an upload, or pointed at another object.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How long an upload or download URL stays valid, seconds.
pub const TTL_SECS: i64 = 3600;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Upload,
    Download,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Upload => "upload",
            Op::Download => "download",
        }
    }
}

#[derive(Clone)]
pub struct TarballSigner {
    key: Vec<u8>,
    /// Where the control plane is reached (`public.control_plane_url`).
    base: String,
}

fn hmac(key: &[u8]) -> HmacSha256 {
    #[allow(clippy::expect_used)] // HMAC takes keys of any length: this cannot fail.
    HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length")
}

impl TarballSigner {
    pub fn new(secret: &str, control_plane_url: &url::Url) -> Self {
        let mut derive = hmac(secret.as_bytes());
        derive.update(b"ironsmith deployment source urls v1");
        TarballSigner {
            key: derive.finalize().into_bytes().to_vec(),
            base: control_plane_url.as_str().trim_end_matches('/').to_owned(),
        }
    }

    fn mac(&self, op: Op, path: &str, expires: i64) -> HmacSha256 {
        let mut mac = hmac(&self.key);
        mac.update(op.as_str().as_bytes());
        mac.update(b"\n");
        mac.update(path.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// An absolute URL for `op` on the object `path`, valid for [`TTL_SECS`] from `now`.
    pub fn url(&self, op: Op, path: &str, now: i64) -> String {
        let expires = now + TTL_SECS;
        let signature = hex::encode(self.mac(op, path, expires).finalize().into_bytes());
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("path", path)
            .append_pair("expires", &expires.to_string())
            .append_pair("signature", &signature)
            .finish();
        format!("{}/v2/sources/{}?{query}", self.base, op.as_str())
    }

    /// Whether a request for `op` on `path` is genuine and unexpired at `now`.
    pub fn verify(
        &self,
        op: Op,
        path: &str,
        expires: i64,
        signature: &str,
        now: i64,
    ) -> Result<(), &'static str> {
        let given = hex::decode(signature).map_err(|_| "The link is invalid")?;
        self.mac(op, path, expires)
            .verify_slice(&given)
            .map_err(|_| "The link is invalid")?;
        if expires < now {
            return Err("The link has expired");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_verifies_only_for_its_operation_path_and_lifetime() {
        let signer = TarballSigner::new("secret", &"http://h/api-host".parse().unwrap());
        let url: url::Url = signer
            .url(Op::Upload, "deployments/a/b/sources/x.tar.gz", 100)
            .parse()
            .unwrap();
        assert_eq!(url.path(), "/api-host/v2/sources/upload");
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        let (path, sig) = (&q["path"], &q["signature"]);
        let expires: i64 = q["expires"].parse().unwrap();
        assert!(signer.verify(Op::Upload, path, expires, sig, 100).is_ok());
        assert!(
            signer
                .verify(Op::Download, path, expires, sig, 100)
                .is_err()
        );
        assert!(
            signer
                .verify(
                    Op::Upload,
                    "deployments/a/b/sources/y.tar.gz",
                    expires,
                    sig,
                    100
                )
                .is_err()
        );
        assert!(
            signer
                .verify(Op::Upload, path, expires + 1, sig, 100)
                .is_err()
        );
        assert_eq!(
            signer.verify(Op::Upload, path, expires, sig, expires + 1),
            Err("The link has expired")
        );
    }
}
