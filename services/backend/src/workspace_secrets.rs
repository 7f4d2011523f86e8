//! Workspace secrets as the rest of backend uses them: the context their encryption is bound
//! to, opening one for a playground call, and re-wrapping after a key rotation.

use ironsmith_db::workspace_secrets::{self, StoredSecret};
use ironsmith_http::ApiError;
use ironsmith_secrets::{Envelope, Sealed, SecretsError};
use uuid::Uuid;
use zeroize::Zeroizing;

/// What a secret's ciphertext is bound to: its workspace and name.
pub fn context(tenant_id: Uuid, key: &str) -> String {
    format!("workspace-secret/{tenant_id}/{key}")
}

/// Maps the envelope's errors: secrets off is the operator's to fix (503); a secret that does
/// not decrypt is a server fault.
pub fn secrets_error(error: SecretsError) -> ApiError {
    match error {
        SecretsError::Off => ApiError::ServiceUnavailable(error.to_string()),
        SecretsError::UnknownKey(_) | SecretsError::Corrupt => ApiError::internal(error),
    }
}

/// Whether `key` is a valid secret name (an environment-variable-like identifier).
pub fn valid_key(key: &str) -> bool {
    let mut bytes = key.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && key.len() <= 128
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The value of the workspace's secret `key`, `None` when the workspace has no such secret.
pub async fn open(
    pg: &ironsmith_db::Pool,
    envelope: &Envelope,
    tenant_id: Uuid,
    key: &str,
) -> Result<Option<Zeroizing<String>>, ApiError> {
    let Some(stored) = workspace_secrets::get(pg, tenant_id, key).await? else {
        return Ok(None);
    };
    let sealed = Sealed {
        ciphertext: stored.ciphertext,
        wrapped_key: stored.wrapped_key,
        key_id: stored.key_id,
    };
    envelope
        .open(&sealed, &context(tenant_id, key))
        .map(Some)
        .map_err(secrets_error)
}

/// Re-wraps the data keys still wrapped by a previous key-encryption key with the current one
/// (run at start, so a rotation completes once every backend has restarted). Secrets already
/// current, and those a concurrent backend re-wrapped first, are left alone.
pub async fn rewrap_all(
    pg: &ironsmith_db::Pool,
    envelope: &Envelope,
    current_key_id: &str,
) -> anyhow::Result<u64> {
    let mut rewrapped = 0;
    loop {
        let batch = workspace_secrets::wrapped_by_other_keys(pg, current_key_id, 100).await?;
        if batch.is_empty() {
            return Ok(rewrapped);
        }
        let mut progressed = false;
        for secret in batch {
            let sealed = Sealed {
                ciphertext: secret.ciphertext.clone(),
                wrapped_key: secret.wrapped_key.clone(),
                key_id: secret.key_id.clone(),
            };
            let new = match envelope.rewrap(&sealed, &context(secret.tenant_id, &secret.key)) {
                Ok(Some(new)) => new,
                Ok(None) => continue,
                Err(error) => {
                    tracing::warn!(tenant_id = %secret.tenant_id, key = %secret.key, %error,
                        "a workspace secret cannot be re-wrapped with the current key");
                    continue;
                }
            };
            let updated = StoredSecret {
                wrapped_key: new.wrapped_key,
                key_id: new.key_id,
                ..secret.clone()
            };
            if workspace_secrets::rewrap(pg, &updated, &secret.key_id).await? {
                rewrapped += 1;
            }
            progressed = true;
        }
        if !progressed {
            return Ok(rewrapped);
        }
    }
}
