//! `POST /internal/playground/resolve`: what one playground call needs, for the playground
//! service only. The playground holds no store credentials: it forwards the caller's own
//! credentials, backend authorises the caller (who must be allowed to trace runs and read
//! prompts), loads the model configuration, decrypts the provider key from the workspace's
//! secrets and, when asked, pulls the hub prompt. The request must also carry the shared
//! `playground.internal_token`; the edge never forwards `/internal` paths.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::routing::post;
use ironsmith_api_types::playground::{
    ModelChoice, PromptRef, ResolveRequest, ResolvedCall, ResolvedPrompt,
};
use ironsmith_auth::perm::RunsCreate;
use ironsmith_auth::{AuthContext, Permission, RequirePermission};
use ironsmith_db::model_configs;
use ironsmith_http::ApiError;
use ironsmith_secrets::Envelope;
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::model_configs::{fields_of, normalise};

/// The header carrying `playground.internal_token`.
pub const INTERNAL_TOKEN_HEADER: &str = "x-ironsmith-internal-token";

pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/internal/playground/resolve", post(resolve))
}

/// The playground service, by its shared token. Without a configured token the route does not
/// exist (404), and a wrong one is answered the same way.
struct PlaygroundService;

impl FromRequestParts<AppState> for PlaygroundService {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let expected = state.config.playground.internal_token.expose().as_bytes();
        let given = parts
            .headers
            .get(INTERNAL_TOKEN_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if expected.is_empty() || !bool::from(expected.ct_eq(given)) {
            return Err(ApiError::NotFound("Not Found".into()));
        }
        Ok(PlaygroundService)
    }
}

async fn resolve(
    _service: PlaygroundService,
    State(state): State<AppState>,
    caller: RequirePermission<RunsCreate>,
    ironsmith_http::Json(body): ironsmith_http::Json<ResolveRequest>,
) -> Result<Json<ResolvedCall>, ApiError> {
    let pg = &state.stores.postgres;
    let config = match body.model {
        ModelChoice::Saved { model_config_id } => {
            let row = model_configs::get(pg, caller.workspace_id, model_config_id)
                .await?
                .ok_or_else(|| {
                    ApiError::NotFound(format!("Model configuration {model_config_id} not found"))
                })?;
            fields_of(row)?
        }
        ModelChoice::Inline { model_config } => normalise(*model_config)?,
    };
    let api_key = match &config.secret_key {
        None => None,
        Some(key) => {
            let envelope = Envelope::new(&state.config.secrets);
            let value = crate::workspace_secrets::open(pg, &envelope, caller.workspace_id, key)
                .await?
                .ok_or_else(|| {
                    ApiError::Rejected(format!(
                        "The workspace has no secret `{key}`: add it under Settings → Secrets, \
                         or name another secret in the model configuration"
                    ))
                })?;
            Some(value.to_string())
        }
    };
    let prompt = match body.prompt {
        Some(prompt) => Some(pull(&state, &caller, &prompt).await?),
        None => None,
    };
    Ok(Json(ResolvedCall {
        tenant_id: caller.workspace_id,
        secret_key: config.secret_key.clone(),
        config,
        api_key,
        prompt,
    }))
}

async fn pull(
    state: &AppState,
    caller: &AuthContext,
    prompt: &PromptRef,
) -> Result<ResolvedPrompt, ApiError> {
    let viewer = ironsmith_hub::Viewer::of(Some(caller), Permission::PromptsRead)?;
    let (owner, name) = prompt.repo.split_once('/').unwrap_or(("-", &prompt.repo));
    let pg = &state.stores.postgres;
    let found = ironsmith_hub::find_repo(pg, &viewer, owner, name).await?;
    let commit = ironsmith_hub::resolve_ref(
        pg,
        &found.repo,
        prompt.commit.as_deref().unwrap_or("latest"),
    )
    .await?;
    let manifest = ironsmith_hub::load_manifest(&state.stores.storage, &commit).await?;
    Ok(ResolvedPrompt {
        repo: prompt.repo.clone(),
        commit_hash: commit.commit_hash,
        manifest: serde_json::from_str(manifest.get())?,
    })
}
