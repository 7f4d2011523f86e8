//! API keys and other bearer secrets: how they look, how they are made, and how they are
//! stored (an HMAC-SHA256 under `auth.api_key_salt`, never the secret itself).
//!
//! Keys are long random strings, so a keyed hash is the right storage: a slow password hash
//! would cost milliseconds on every request and protect nothing more.

use hmac::{Hmac, Mac};
use rand::Rng;
use rand::distributions::Alphanumeric;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The two kinds of API key LangSmith issues: personal access tokens and service keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    /// A personal access token, `lsv2_pt_…`, acting as its owner.
    Pat,
    /// A service key, `lsv2_sk_…`, acting as a service account.
    Service,
}

impl KeyKind {
    pub fn prefix(self) -> &'static str {
        match self {
            KeyKind::Pat => "lsv2_pt_",
            KeyKind::Service => "lsv2_sk_",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Pat => "pat",
            KeyKind::Service => "service",
        }
    }

    pub fn parse(stored: &str) -> Option<KeyKind> {
        match stored {
            "pat" => Some(KeyKind::Pat),
            "service" => Some(KeyKind::Service),
            _ => None,
        }
    }
}

/// Why a presented key is refused before any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyShape {
    Valid(KeyKind),
    /// `ls__…`: LangSmith's old key format, no longer accepted since 2024-10-22.
    Legacy,
    Malformed,
}

/// Classifies a presented key by its shape: `lsv2_pt_<32+ alphanumerics>_<suffix>`.
pub fn key_shape(key: &str) -> KeyShape {
    if key.starts_with("ls__") {
        return KeyShape::Legacy;
    }
    let kind = if key.starts_with(KeyKind::Pat.prefix()) {
        KeyKind::Pat
    } else if key.starts_with(KeyKind::Service.prefix()) {
        KeyKind::Service
    } else {
        return KeyShape::Malformed;
    };
    let rest = &key[kind.prefix().len()..];
    match rest.split_once('_') {
        Some((body, suffix))
            if body.len() >= 32
                && body.len() <= 128
                && !suffix.is_empty()
                && suffix.len() <= 64
                && body.bytes().all(|b| b.is_ascii_alphanumeric())
                && suffix.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            KeyShape::Valid(kind)
        }
        _ => KeyShape::Malformed,
    }
}

fn random_alphanumeric(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A new key of `kind`: 32 random alphanumerics (about 190 bits) and a 10-character suffix.
pub fn generate_key(kind: KeyKind) -> String {
    format!(
        "{}{}_{}",
        kind.prefix(),
        random_alphanumeric(32),
        random_alphanumeric(10).to_ascii_lowercase()
    )
}

/// A random opaque token (invitations, OIDC state and PKCE verifiers): 43 URL-safe characters.
pub fn generate_token() -> String {
    random_alphanumeric(43)
}

/// What listings show of a key: its kind prefix and last four characters.
pub fn short_key(key: &str) -> String {
    let prefix = &key[..key.len().min(8)];
    let last = &key[key.len().saturating_sub(4)..];
    format!("{prefix}…{last}")
}

/// Keyed hashing of secrets under the installation's salt.
#[derive(Clone)]
pub struct SecretHasher {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretHasher")
    }
}

impl SecretHasher {
    pub fn new(salt: &[u8]) -> Self {
        // HMAC takes keys of any length; this cannot fail.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(salt)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        SecretHasher { mac }
    }

    pub fn hash(&self, secret: &str) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(secret.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Whether `secret` hashes to `stored`, compared in constant time.
    pub fn verify(&self, secret: &str, stored: &[u8]) -> bool {
        self.hash(secret).as_slice().ct_eq(stored).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_sdk_shape() {
        for kind in [KeyKind::Pat, KeyKind::Service] {
            let key = generate_key(kind);
            assert!(key.starts_with(kind.prefix()));
            assert_eq!(key_shape(&key), KeyShape::Valid(kind), "{key}");
        }
        assert_ne!(generate_key(KeyKind::Pat), generate_key(KeyKind::Pat));
    }

    #[test]
    fn shapes_are_classified() {
        assert_eq!(key_shape("ls__0123456789abcdef"), KeyShape::Legacy);
        assert_eq!(key_shape("lsv2_pt_short_x"), KeyShape::Malformed);
        assert_eq!(
            key_shape("lsv2_pt_0123456789abcdef0123456789abcdef"),
            KeyShape::Malformed
        );
        assert_eq!(
            key_shape("lsv2_sk_0123456789abcdef0123456789abcdef_ab12"),
            KeyShape::Valid(KeyKind::Service)
        );
        assert_eq!(key_shape("Bearer nonsense"), KeyShape::Malformed);
        assert_eq!(
            key_shape("lsv2_pt_0123456789abcdef0123456789abcde!_ab12"),
            KeyShape::Malformed
        );
    }

    #[test]
    fn hashes_depend_on_the_salt_and_verify_in_constant_time() {
        let a = SecretHasher::new(b"salt-a");
        let b = SecretHasher::new(b"salt-b");
        let key = generate_key(KeyKind::Pat);
        assert_ne!(a.hash(&key), b.hash(&key));
        assert!(a.verify(&key, &a.hash(&key)));
        assert!(!a.verify(&key, &b.hash(&key)));
        assert!(!a.verify(&key, &a.hash(&key)[..31]));
    }

    #[test]
    fn short_key_shows_prefix_and_last_four() {
        assert_eq!(short_key("lsv2_pt_abcdefgh_12345678"), "lsv2_pt_…5678");
    }
}
