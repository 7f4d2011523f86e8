//! A deployment's secrets: the Agent Server's environment variables. Names are checked against
//! those the control plane and data plane set themselves; the list is sealed at rest with the
//! workspace-secret envelope, bound to the workspace and the deployment.

use std::collections::{BTreeMap, BTreeSet};

use ironsmith_api_types::deployments::{SecretEntry, SecretReference};
use ironsmith_db::deployments::SealedSecrets;
use ironsmith_http::ApiError;
use ironsmith_secrets::{Envelope, Sealed};
use uuid::Uuid;

use crate::workspace_secrets::secrets_error;

/// What secret values look like to callers who may not update deployments. A value sent back
/// as this keeps the stored value of that name.
pub const MASK: &str = "********";

/// Names the platform sets itself: a deployment may not override them.
const RESERVED: &[&str] = &[
    "LANGCHAIN_TRACING_V2",
    "LANGSMITH_TRACING_V2",
    "LANGCHAIN_TRACING",
    "LANGSMITH_TRACING",
    "LANGCHAIN_ENDPOINT",
    "LANGCHAIN_PROJECT",
    "LANGSMITH_PROJECT",
    "LANGCHAIN_API_KEY",
    "LANGSMITH_CONTROL_PLANE_API_KEY",
    "POSTGRES_URI",
    "POSTGRES_PASSWORD",
    "DATABASE_URI",
    "REDIS_URI",
    "LANGGRAPH_AUTH_TYPE",
    "LANGSMITH_AUTH_ENDPOINT",
    "LANGSMITH_TENANT_ID",
    "LANGSMITH_AUTH_VERIFY_TENANT_ID",
    "LANGSMITH_HOST_PROJECT_ID",
    "LANGSMITH_HOST_PROJECT_NAME",
    "LANGSMITH_HOST_REVISION_ID",
    "LANGSMITH_DEPLOYMENT_NAME",
    "LANGGRAPH_CLOUD_LICENSE_KEY",
    "LOG_JSON",
    "LOG_DICT_TRACEBACKS",
    "GIT_REPO_URL",
    "GIT_REPO_BRANCH",
    "GIT_REPO_COMMIT_SHA",
    "LANGGRAPH_GIT_REPO_PATH",
];

/// Refuses invalid, duplicate and reserved names.
pub fn validate(
    secrets: &[SecretEntry],
    references: Option<&[SecretReference]>,
) -> Result<(), ApiError> {
    let mut seen = BTreeSet::new();
    let names = secrets.iter().map(|s| s.name.as_str()).chain(
        references
            .unwrap_or_default()
            .iter()
            .map(|r| r.name.as_str()),
    );
    for name in names {
        if !crate::workspace_secrets::valid_key(name) {
            return Err(ApiError::BadRequest(format!(
                "Secret name {name:?} is not a valid environment variable name"
            )));
        }
        if RESERVED.contains(&name) {
            return Err(ApiError::BadRequest(format!(
                "Secret name {name} is reserved: the platform sets it for every deployment"
            )));
        }
        if !seen.insert(name) {
            return Err(ApiError::BadRequest(format!(
                "Secret name {name} is given more than once"
            )));
        }
    }
    for r in references.unwrap_or_default() {
        if r.secret_name.is_empty() || r.secret_key.is_empty() {
            return Err(ApiError::BadRequest(format!(
                "secret_references entry {} needs a secret_name and a secret_key",
                r.name
            )));
        }
    }
    Ok(())
}

fn context(tenant_id: Uuid, deployment_id: Uuid) -> String {
    format!("deployment-secrets/{tenant_id}/{deployment_id}")
}

/// Seals the list; an empty list is stored as nothing (and needs no encryption key).
pub fn seal(
    envelope: &Envelope,
    tenant_id: Uuid,
    deployment_id: Uuid,
    secrets: &[SecretEntry],
) -> Result<SealedSecrets, ApiError> {
    if secrets.is_empty() {
        return Ok(SealedSecrets::default());
    }
    let plaintext = serde_json::to_string(secrets)?;
    let sealed = envelope
        .seal(&plaintext, &context(tenant_id, deployment_id))
        .map_err(secrets_error)?;
    Ok(SealedSecrets {
        ciphertext: Some(sealed.ciphertext),
        wrapped_key: Some(sealed.wrapped_key),
        key_id: Some(sealed.key_id),
    })
}

/// The stored list, decrypted.
pub fn open(
    envelope: &Envelope,
    row: &ironsmith_db::deployments::Deployment,
) -> Result<Vec<SecretEntry>, ApiError> {
    let (Some(ciphertext), Some(wrapped_key), Some(key_id)) = (
        row.secrets_ciphertext.clone(),
        row.secrets_wrapped_key.clone(),
        row.secrets_key_id.clone(),
    ) else {
        return Ok(Vec::new());
    };
    let sealed = Sealed {
        ciphertext,
        wrapped_key,
        key_id,
    };
    let plaintext = envelope
        .open(&sealed, &context(row.tenant_id, row.id))
        .map_err(secrets_error)?;
    Ok(serde_json::from_str(&plaintext)?)
}

/// A new list replacing `stored`: a value sent back masked keeps the stored value of that name.
pub fn replace(
    stored: &[SecretEntry],
    sent: Vec<SecretEntry>,
) -> Result<Vec<SecretEntry>, ApiError> {
    let old: BTreeMap<&str, &str> = stored
        .iter()
        .map(|s| (s.name.as_str(), s.value.as_str()))
        .collect();
    sent.into_iter()
        .map(|s| {
            if s.value == MASK {
                let value = old.get(s.name.as_str()).ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "Secret {} has no stored value to keep: send its value",
                        s.name
                    ))
                })?;
                Ok(SecretEntry {
                    name: s.name,
                    value: (*value).to_owned(),
                })
            } else {
                Ok(s)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, value: &str) -> SecretEntry {
        SecretEntry {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn reserved_and_duplicate_names_are_refused() {
        assert!(validate(&[entry("OPENAI_API_KEY", "x")], None).is_ok());
        assert!(validate(&[entry("LANGSMITH_API_KEY", "x")], None).is_ok());
        assert!(validate(&[entry("POSTGRES_URI", "x")], None).is_err());
        assert!(validate(&[entry("A", "x"), entry("A", "y")], None).is_err());
        assert!(validate(&[entry("1A", "x")], None).is_err());
    }

    #[test]
    fn a_masked_value_keeps_the_stored_one() {
        let stored = vec![entry("A", "secret-a"), entry("B", "secret-b")];
        let kept = replace(&stored, vec![entry("A", MASK), entry("C", "new")]).unwrap();
        assert_eq!(kept, vec![entry("A", "secret-a"), entry("C", "new")]);
        assert!(replace(&stored, vec![entry("Z", MASK)]).is_err());
    }
}
