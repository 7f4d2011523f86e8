//! `/workspaces/current/secrets`: a workspace's secrets (provider keys for the playground).
//! Values are write-only: every answer names a secret and shows the last four characters of
//! its value, never more. Members read the names; workspace admins set and delete secrets.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use ironsmith_api_types::playground::WorkspaceSecret;
use ironsmith_auth::perm::{WorkspacesManage, WorkspacesRead};
use ironsmith_auth::{AuthContext, RequirePermission};
use ironsmith_db::audit_log::{self, NewAuditEntry};
use ironsmith_db::workspace_secrets::{self, StoredSecret};
use ironsmith_http::{ApiError, ValidationIssue};
use ironsmith_secrets::Envelope;

use crate::workspace_secrets::{context, secrets_error, valid_key};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

/// Secrets one workspace may hold.
const MAX_SECRETS_PER_WORKSPACE: i64 = 100;
/// Largest secret value, bytes.
const MAX_VALUE_BYTES: usize = 16 * 1024;
/// Secrets one request may set.
const MAX_SECRETS_PER_REQUEST: usize = 50;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, upsert))
        .routes(routes!(remove))
}

fn render(secret: workspace_secrets::SecretSummary) -> WorkspaceSecret {
    WorkspaceSecret {
        key: secret.key,
        last_four: secret.last_four,
        created_at: secret.created_at,
        updated_at: secret.updated_at,
    }
}

#[utoipa::path(get, path = "/workspaces/current/secrets", operation_id = "list_workspace_secrets",
    tag = "secrets", responses((status = 200, body = [WorkspaceSecret])))]
async fn list(
    State(state): State<AppState>,
    caller: RequirePermission<WorkspacesRead>,
) -> Result<Json<Vec<WorkspaceSecret>>, ApiError> {
    let secrets = workspace_secrets::list(&state.stores.postgres, caller.workspace_id).await?;
    Ok(Json(secrets.into_iter().map(render).collect()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SecretUpsert {
    /// A letter or `_`, then letters, digits or `_`, up to 128 characters.
    #[schema(pattern = "^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
    key: String,
    /// The value; null or empty deletes the secret.
    value: Option<String>,
}

fn invalid(index: usize, field: &str, message: impl Into<String>) -> ApiError {
    ApiError::Unprocessable(vec![ValidationIssue {
        loc: vec!["body".into(), index.to_string(), field.into()],
        msg: message.into(),
        kind: "value_error".into(),
    }])
}

/// Sets (or, with a null or empty value, deletes) the secrets given; answers with the
/// workspace's secrets afterwards.
#[utoipa::path(post, path = "/workspaces/current/secrets", operation_id = "upsert_workspace_secrets",
    tag = "secrets", request_body = Vec<SecretUpsert>,
    responses((status = 200, body = [WorkspaceSecret])))]
async fn upsert(
    State(state): State<AppState>,
    caller: RequirePermission<WorkspacesManage>,
    ironsmith_http::Json(body): ironsmith_http::Json<Vec<SecretUpsert>>,
) -> Result<Json<Vec<WorkspaceSecret>>, ApiError> {
    if body.len() > MAX_SECRETS_PER_REQUEST {
        return Err(ApiError::Rejected(format!(
            "at most {MAX_SECRETS_PER_REQUEST} secrets per request"
        )));
    }
    for (index, item) in body.iter().enumerate() {
        if !valid_key(&item.key) {
            return Err(invalid(
                index,
                "key",
                "must start with a letter or `_` and hold only letters, digits and `_` (up to 128)",
            ));
        }
        if item
            .value
            .as_ref()
            .is_some_and(|v| v.len() > MAX_VALUE_BYTES)
        {
            return Err(invalid(
                index,
                "value",
                format!("must be at most {MAX_VALUE_BYTES} bytes"),
            ));
        }
    }
    let envelope = Envelope::new(&state.config.secrets);
    let mut tx = state.stores.postgres.begin().await?;
    for item in &body {
        let value = item.value.as_deref().filter(|v| !v.is_empty());
        let action = match value {
            None => {
                workspace_secrets::delete(&mut *tx, caller.workspace_id, &item.key).await?;
                "workspace_secret.delete"
            }
            Some(value) => {
                let sealed = envelope
                    .seal(value, &context(caller.workspace_id, &item.key))
                    .map_err(secrets_error)?;
                let stored = StoredSecret {
                    tenant_id: caller.workspace_id,
                    key: item.key.clone(),
                    ciphertext: sealed.ciphertext,
                    wrapped_key: sealed.wrapped_key,
                    key_id: sealed.key_id,
                };
                let last_four = ironsmith_secrets::last_four(value);
                if !workspace_secrets::upsert(
                    &mut *tx,
                    &stored,
                    &last_four,
                    MAX_SECRETS_PER_WORKSPACE,
                )
                .await?
                {
                    return Err(ApiError::Rejected(format!(
                        "a workspace holds at most {MAX_SECRETS_PER_WORKSPACE} secrets"
                    )));
                }
                "workspace_secret.set"
            }
        };
        audit(&mut *tx, &caller, action, &item.key).await?;
    }
    tx.commit().await?;
    let secrets = workspace_secrets::list(&state.stores.postgres, caller.workspace_id).await?;
    Ok(Json(secrets.into_iter().map(render).collect()))
}

#[utoipa::path(delete, path = "/workspaces/current/secrets/{key}", operation_id = "delete_workspace_secret",
    tag = "secrets", params(("key" = String, Path)),
    responses((status = 204), (status = 404, description = "No such secret")))]
async fn remove(
    State(state): State<AppState>,
    caller: RequirePermission<WorkspacesManage>,
    Path(key): Path<String>,
) -> Result<StatusCode, ApiError> {
    let mut tx = state.stores.postgres.begin().await?;
    if !workspace_secrets::delete(&mut *tx, caller.workspace_id, &key).await? {
        return Err(ApiError::NotFound(format!("Secret {key} not found")));
    }
    audit(&mut *tx, &caller, "workspace_secret.delete", &key).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn audit(
    db: impl ironsmith_db::PgExecutor<'_>,
    caller: &AuthContext,
    action: &str,
    key: &str,
) -> Result<(), ApiError> {
    audit_log::record(
        db,
        &NewAuditEntry {
            organization_id: caller.organization_id,
            workspace_id: Some(caller.workspace_id),
            actor_user_id: caller.user_id(),
            actor_api_key_id: caller.credential.api_key_id(),
            action,
            target_type: "workspace_secret",
            target_id: key.to_owned(),
            details: serde_json::json!({}),
        },
    )
    .await?;
    Ok(())
}
