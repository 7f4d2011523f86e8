//! Envelope encryption of workspace secrets.
//!
//! Each secret is encrypted with its own random 256-bit data key (AES-256-GCM, random 96-bit
//! nonce), and the data key is encrypted ("wrapped") with the configured key-encryption key,
//! whose id is stored beside it. Both encryptions bind associated data naming the workspace and
//! the secret, so a row copied to another workspace or another name does not decrypt. Rotating
//! the key-encryption key re-wraps data keys only: the secrets themselves are never re-encrypted.

// Tests may expect and index: a panic there is a failing test.
#![cfg_attr(test, allow(clippy::expect_used, clippy::indexing_slicing))]

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use ironsmith_config::{EncryptionKey, SecretsConfig};
use zeroize::Zeroizing;

const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("workspace secrets are off: the operator has not set secrets.encryption_key")]
    Off,
    #[error("the secret was encrypted with key `{0}`, which is no longer configured")]
    UnknownKey(String),
    #[error("the secret does not decrypt (altered, or stored for another workspace or name)")]
    Corrupt,
}

/// A secret as stored: its ciphertext, its wrapped data key and the id of the wrapping key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// Nonce followed by the AES-GCM ciphertext and tag.
    pub ciphertext: Vec<u8>,
    /// Nonce followed by the encrypted data key and tag.
    pub wrapped_key: Vec<u8>,
    pub key_id: String,
}

/// The configured keys.
#[derive(Debug, Clone)]
pub struct Envelope {
    current: Option<EncryptionKey>,
    keys: Vec<EncryptionKey>,
}

impl Envelope {
    pub fn new(config: &SecretsConfig) -> Envelope {
        let (current, keys) = config.keys();
        Envelope { current, keys }
    }

    pub fn is_on(&self) -> bool {
        self.current.is_some()
    }

    /// Encrypts `plaintext` under a fresh data key. `context` names what the secret belongs to
    /// (workspace and name); decrypting needs the same.
    pub fn seal(&self, plaintext: &str, context: &str) -> Result<Sealed, SecretsError> {
        let kek = self.current.as_ref().ok_or(SecretsError::Off)?;
        let data_key = Zeroizing::new(rand::random::<[u8; 32]>());
        Ok(Sealed {
            ciphertext: encrypt(&data_key[..], plaintext.as_bytes(), context)?,
            wrapped_key: encrypt(&kek.bytes, &data_key[..], context)?,
            key_id: kek.id.clone(),
        })
    }

    /// Decrypts a sealed secret stored under `context`.
    pub fn open(&self, sealed: &Sealed, context: &str) -> Result<Zeroizing<String>, SecretsError> {
        let data_key = self.unwrap_key(sealed, context)?;
        let plaintext = Zeroizing::new(decrypt(&data_key, &sealed.ciphertext, context)?);
        String::from_utf8(plaintext.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| SecretsError::Corrupt)
    }

    /// The same secret with its data key wrapped by the current key, when an older key wraps
    /// it now (`None` when it is current already).
    pub fn rewrap(&self, sealed: &Sealed, context: &str) -> Result<Option<Sealed>, SecretsError> {
        let kek = self.current.as_ref().ok_or(SecretsError::Off)?;
        if sealed.key_id == kek.id {
            return Ok(None);
        }
        let data_key = self.unwrap_key(sealed, context)?;
        Ok(Some(Sealed {
            ciphertext: sealed.ciphertext.clone(),
            wrapped_key: encrypt(&kek.bytes, &data_key, context)?,
            key_id: kek.id.clone(),
        }))
    }

    fn unwrap_key(
        &self,
        sealed: &Sealed,
        context: &str,
    ) -> Result<Zeroizing<Vec<u8>>, SecretsError> {
        let kek = self
            .keys
            .iter()
            .find(|k| k.id == sealed.key_id)
            .ok_or_else(|| SecretsError::UnknownKey(sealed.key_id.clone()))?;
        let data_key = Zeroizing::new(decrypt(&kek.bytes, &sealed.wrapped_key, context)?);
        if data_key.len() != 32 {
            return Err(SecretsError::Corrupt);
        }
        Ok(data_key)
    }
}

fn encrypt(key: &[u8], plaintext: &[u8], context: &str) -> Result<Vec<u8>, SecretsError> {
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| SecretsError::Corrupt)?;
    let nonce = rand::random::<[u8; NONCE_LEN]>();
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: context.as_bytes(),
            },
        )
        .map_err(|_| SecretsError::Corrupt)?;
    let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

fn decrypt(key: &[u8], sealed: &[u8], context: &str) -> Result<Vec<u8>, SecretsError> {
    let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| SecretsError::Corrupt)?;
    let (nonce, body) = sealed
        .split_at_checked(NONCE_LEN)
        .ok_or(SecretsError::Corrupt)?;
    cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: body,
                aad: context.as_bytes(),
            },
        )
        .map_err(|_| SecretsError::Corrupt)
}

/// The last four characters shown for a secret (fewer when it is short: never the whole of a
/// secret shorter than eight characters).
pub fn last_four(value: &str) -> String {
    let count = value.chars().count();
    if count < 8 {
        return String::new();
    }
    value.chars().skip(count - 4).collect()
}

#[cfg(test)]
mod tests {
    use ironsmith_config::Secret;

    use super::*;

    fn config(current: &str, previous: &[&str]) -> SecretsConfig {
        SecretsConfig {
            encryption_key: Secret::new(current),
            previous_encryption_keys: previous.iter().map(|k| Secret::new(*k)).collect(),
        }
    }

    const K1: &str = "k1:BLD5303I/F5kkjEi0lzC1ODs54zDGefH4S5hiA3OP04=";
    const K2: &str = "k2:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn a_sealed_secret_opens_in_its_own_context_only() {
        let envelope = Envelope::new(&config(K1, &[]));
        let sealed = envelope
            .seal("sk-live-123456", "ws-a/OPENAI_API_KEY")
            .unwrap();
        assert!(!sealed.ciphertext.windows(6).any(|w| w == b"sk-liv"));
        assert_eq!(
            envelope
                .open(&sealed, "ws-a/OPENAI_API_KEY")
                .unwrap()
                .as_str(),
            "sk-live-123456"
        );
        assert!(matches!(
            envelope.open(&sealed, "ws-b/OPENAI_API_KEY"),
            Err(SecretsError::Corrupt)
        ));
        let mut altered = sealed;
        let last = altered.ciphertext.len() - 1;
        altered.ciphertext[last] ^= 1;
        assert!(matches!(
            envelope.open(&altered, "ws-a/OPENAI_API_KEY"),
            Err(SecretsError::Corrupt)
        ));
    }

    #[test]
    fn rotation_rewraps_the_data_key_and_keeps_the_secret() {
        let old = Envelope::new(&config(K1, &[]));
        let sealed = old.seal("value-of-the-secret", "ctx").unwrap();
        let rotated = Envelope::new(&config(K2, &[K1]));
        assert_eq!(
            rotated.open(&sealed, "ctx").unwrap().as_str(),
            "value-of-the-secret"
        );
        let rewrapped = rotated
            .rewrap(&sealed, "ctx")
            .unwrap()
            .expect("an old key wraps it");
        assert_eq!(rewrapped.key_id, "k2");
        assert_eq!(rewrapped.ciphertext, sealed.ciphertext);
        assert!(rotated.rewrap(&rewrapped, "ctx").unwrap().is_none());
        let only_new = Envelope::new(&config(K2, &[]));
        assert_eq!(
            only_new.open(&rewrapped, "ctx").unwrap().as_str(),
            "value-of-the-secret"
        );
        assert!(matches!(
            only_new.open(&sealed, "ctx"),
            Err(SecretsError::UnknownKey(id)) if id == "k1"
        ));
    }

    #[test]
    fn without_a_key_secrets_are_off() {
        let envelope = Envelope::new(&config("", &[]));
        assert!(!envelope.is_on());
        assert!(matches!(envelope.seal("x", "c"), Err(SecretsError::Off)));
    }

    #[test]
    fn only_the_last_four_characters_of_a_long_secret_show() {
        assert_eq!(last_four("sk-abcdefgh1234"), "1234");
        assert_eq!(last_four("short"), "");
    }
}
