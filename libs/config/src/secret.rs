//! Secrets in the configuration: values that are never printed or logged (`Secret`), and the
//! key-encryption keys of workspace secrets (`[secrets]`).

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

/// A configuration secret: never printed, never logged.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(SecretString::from(value.into()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_empty() {
            "\"\""
        } else {
            "[redacted]"
        })
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(if self.is_empty() { "" } else { "[redacted]" })
    }
}

/// Envelope encryption: every secret is encrypted with its own random data key (AES-256-GCM),
/// and that data key is encrypted ("wrapped") with the key-encryption key named here. Rotating:
/// put a new key in `encryption_key`, move the old one to `previous_encryption_keys`, restart
/// the backends (each re-wraps the data keys still wrapped by an old key when it starts), then
/// drop the old key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsConfig {
    /// `<key id>:<32 bytes in base64>`; empty turns workspace secrets off.
    pub encryption_key: Secret,
    /// Keys that only decrypt (data keys wrapped before a rotation), same form.
    pub previous_encryption_keys: Vec<Secret>,
}

/// A parsed key-encryption key of `[secrets]`.
#[derive(Clone)]
pub struct EncryptionKey {
    pub id: String,
    pub bytes: [u8; 32],
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncryptionKey({})", self.id)
    }
}

impl EncryptionKey {
    /// `<id>:<32 bytes in base64>`.
    pub fn parse(text: &Secret) -> Result<EncryptionKey, String> {
        use base64::Engine;
        let (id, encoded) = text
            .expose()
            .split_once(':')
            .ok_or("must be `<key id>:<32 bytes in base64>`")?;
        if id.is_empty()
            || id.len() > 64
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        {
            return Err("the key id must be 1 to 64 letters, digits, `-`, `_` or `.`".into());
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| "the key is not valid base64")?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "the key must be exactly 32 bytes (openssl rand -base64 32)")?;
        Ok(EncryptionKey {
            id: id.to_owned(),
            bytes,
        })
    }
}

impl SecretsConfig {
    /// The current key (`None` when secrets are off) and every key that may decrypt.
    pub fn keys(&self) -> (Option<EncryptionKey>, Vec<EncryptionKey>) {
        let current = (!self.encryption_key.is_empty())
            .then(|| EncryptionKey::parse(&self.encryption_key).ok())
            .flatten();
        let all = current
            .iter()
            .cloned()
            .chain(
                self.previous_encryption_keys
                    .iter()
                    .filter_map(|k| EncryptionKey::parse(k).ok()),
            )
            .collect();
        (current, all)
    }
}
