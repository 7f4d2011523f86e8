//! Prompt webhooks: `POST|GET /prompt-webhooks`, `GET|PATCH|DELETE /prompt-webhooks/{id}`,
//! `GET /prompt-webhooks/{id}/deliveries` (every event sent, with its attempts) and
//! `POST /prompt-webhooks/test` (one unsigned send of a given payload). Events are fired by
//! commits and tags and delivered by the queue worker (`ironsmith_hub::webhooks`).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ironsmith_api_types::hub::{
    PromptWebhook, PromptWebhookCreate, PromptWebhookDelivery, PromptWebhookTest,
    PromptWebhookUpdate,
};
use ironsmith_auth::perm::{PromptsRead, PromptsUpdate};
use ironsmith_auth::{Permission, RequirePermission};
use ironsmith_db::prompt_webhooks::{self as store, Webhook, WebhookFields};
use ironsmith_http::{ApiError, PathUuid, QueryPairs};
use ironsmith_hub::invalid;
use ironsmith_hub::webhooks::{self, Outgoing, TRIGGERS};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(read, update, delete))
        .routes(routes!(deliveries))
        .routes(routes!(test))
}

const MASK: &str = "********";

fn render(webhook: Webhook, reveal: bool, secret: Option<String>) -> PromptWebhook {
    let headers = if reveal {
        webhook.headers
    } else {
        Value::Object(
            webhook
                .headers
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| (k.clone(), json!(MASK)))
                .collect(),
        )
    };
    PromptWebhook {
        id: webhook.id,
        tenant_id: webhook.tenant_id,
        url: webhook.url,
        headers,
        include_prompts: webhook.include_prompts,
        exclude_prompts: webhook.exclude_prompts,
        triggers: webhook.triggers,
        signing_secret: secret,
        created_at: webhook.created_at,
        updated_at: webhook.updated_at,
    }
}

fn not_found() -> ApiError {
    ApiError::NotFound("Prompt webhook not found".into())
}

/// Checks the parts every webhook needs: a target the stack may call, string headers (never
/// the masked placeholder) and known triggers.
async fn check(
    state: &AppState,
    url: &str,
    headers: &Value,
    triggers: &[String],
) -> Result<url::Url, ApiError> {
    let target = webhooks::check_target(url, state.config.hub.allow_private_webhook_targets)
        .await
        .map_err(|reason| invalid("url", reason))?;
    let Some(headers) = headers.as_object() else {
        return Err(invalid(
            "headers",
            "must be an object of header names to values".into(),
        ));
    };
    for (name, value) in headers {
        let valid_name = axum::http::HeaderName::from_bytes(name.as_bytes()).is_ok();
        let text = value.as_str().unwrap_or_default();
        if !valid_name
            || !value.is_string()
            || text == MASK
            || axum::http::HeaderValue::from_str(text).is_err()
        {
            return Err(invalid(
                "headers",
                format!(
                    "header `{name}` needs a valid name and a string value (not the masked one)"
                ),
            ));
        }
    }
    if let Some(bad) = triggers.iter().find(|t| !TRIGGERS.contains(&t.as_str())) {
        return Err(invalid(
            "triggers",
            format!("`{bad}` is not a trigger: use commit, tag:create or tag:update"),
        ));
    }
    Ok(target)
}

#[utoipa::path(post, path = "/prompt-webhooks", operation_id = "create_prompt_webhook", tag = "prompt hub",
    request_body = PromptWebhookCreate,
    responses((status = 200, body = PromptWebhook, description = "With its signing secret, shown only here")))]
async fn create(
    State(state): State<AppState>,
    caller: RequirePermission<PromptsUpdate>,
    ironsmith_http::Json(body): ironsmith_http::Json<PromptWebhookCreate>,
) -> Result<Json<PromptWebhook>, ApiError> {
    let headers = body.headers.unwrap_or_else(|| json!({}));
    let triggers = body.triggers.unwrap_or_else(|| vec!["commit".into()]);
    check(&state, &body.url, &headers, &triggers).await?;
    let secret = hex::encode(rand::random::<[u8; 32]>());
    let created = store::create(
        &state.stores.postgres,
        body.id.unwrap_or_else(Uuid::now_v7),
        caller.workspace_id,
        &WebhookFields {
            url: &body.url,
            headers: &headers,
            include_prompts: &body.include_prompts.unwrap_or_default(),
            exclude_prompts: &body.exclude_prompts.unwrap_or_default(),
            triggers: &triggers,
        },
        &secret,
    )
    .await;
    match created {
        Ok(created) => Ok(Json(render(created, true, Some(secret)))),
        Err(e) if e.is_unique_violation() => Err(ApiError::Conflict(
            "A webhook with this id already exists".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(get, path = "/prompt-webhooks", operation_id = "list_prompt_webhooks", tag = "prompt hub",
    responses((status = 200, body = [PromptWebhook])))]
async fn list(
    State(state): State<AppState>,
    caller: RequirePermission<PromptsRead>,
) -> Result<Json<Vec<PromptWebhook>>, ApiError> {
    let reveal = caller.require(Permission::PromptsUpdate).is_ok();
    let found = store::list(&state.stores.postgres, caller.workspace_id).await?;
    Ok(Json(
        found.into_iter().map(|w| render(w, reveal, None)).collect(),
    ))
}

#[utoipa::path(get, path = "/prompt-webhooks/{id}", operation_id = "read_prompt_webhook", tag = "prompt hub",
    params(("id" = Uuid, Path)), responses((status = 200, body = PromptWebhook)))]
async fn read(
    State(state): State<AppState>,
    caller: RequirePermission<PromptsRead>,
    PathUuid(id): PathUuid,
) -> Result<Json<PromptWebhook>, ApiError> {
    let reveal = caller.require(Permission::PromptsUpdate).is_ok();
    let found = store::get(&state.stores.postgres, caller.workspace_id, id)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(render(found, reveal, None)))
}

#[utoipa::path(patch, path = "/prompt-webhooks/{id}", operation_id = "update_prompt_webhook", tag = "prompt hub",
    params(("id" = Uuid, Path)), request_body = PromptWebhookUpdate,
    responses((status = 200, body = PromptWebhook)))]
async fn update(
    State(state): State<AppState>,
    caller: RequirePermission<PromptsUpdate>,
    PathUuid(id): PathUuid,
    ironsmith_http::Json(body): ironsmith_http::Json<PromptWebhookUpdate>,
) -> Result<Json<PromptWebhook>, ApiError> {
    let pg = &state.stores.postgres;
    let current = store::get(pg, caller.workspace_id, id)
        .await?
        .ok_or_else(not_found)?;
    let url = body.url.unwrap_or(current.url);
    let headers = body.headers.unwrap_or(current.headers);
    let triggers = body.triggers.unwrap_or(current.triggers);
    check(&state, &url, &headers, &triggers).await?;
    let updated = store::update(
        pg,
        caller.workspace_id,
        id,
        &WebhookFields {
            url: &url,
            headers: &headers,
            include_prompts: &body.include_prompts.unwrap_or(current.include_prompts),
            exclude_prompts: &body.exclude_prompts.unwrap_or(current.exclude_prompts),
            triggers: &triggers,
        },
    )
    .await?
    .ok_or_else(not_found)?;
    Ok(Json(render(updated, true, None)))
}

#[utoipa::path(delete, path = "/prompt-webhooks/{id}", operation_id = "delete_prompt_webhook", tag = "prompt hub",
    params(("id" = Uuid, Path)), responses((status = 204, description = "Deleted")))]
async fn delete(
    State(state): State<AppState>,
    caller: RequirePermission<PromptsUpdate>,
    PathUuid(id): PathUuid,
) -> Result<StatusCode, ApiError> {
    if store::delete(&state.stores.postgres, caller.workspace_id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}

#[utoipa::path(get, path = "/prompt-webhooks/{id}/deliveries", operation_id = "list_prompt_webhook_deliveries", tag = "prompt hub",
    params(("id" = Uuid, Path), ("offset" = Option<u64>, Query, minimum = 0),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100)),
    responses((status = 200, body = [PromptWebhookDelivery])))]
async fn deliveries(
    State(state): State<AppState>,
    caller: RequirePermission<PromptsRead>,
    PathUuid(id): PathUuid,
    query: QueryPairs,
) -> Result<Json<Vec<PromptWebhookDelivery>>, ApiError> {
    let (offset, limit) = query.page(100)?;
    let pg = &state.stores.postgres;
    store::get(pg, caller.workspace_id, id)
        .await?
        .ok_or_else(not_found)?;
    let found = store::deliveries(pg, caller.workspace_id, id, offset, limit).await?;
    let mut out = Vec::with_capacity(found.len());
    for d in found {
        out.push(PromptWebhookDelivery {
            id: d.id,
            webhook_id: d.webhook_id,
            event: d.event,
            status: d.status,
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            payload: RawValue::from_string(d.payload)?,
            created_at: d.created_at,
            updated_at: d.updated_at,
        });
    }
    Ok(Json(out))
}

#[utoipa::path(post, path = "/prompt-webhooks/test", operation_id = "test_prompt_webhook", tag = "prompt hub",
    request_body = PromptWebhookTest,
    responses((status = 200, description = "What the target answered", body = Object)))]
async fn test(
    State(state): State<AppState>,
    caller: RequirePermission<PromptsUpdate>,
    ironsmith_http::Json(body): ironsmith_http::Json<PromptWebhookTest>,
) -> Result<Json<Value>, ApiError> {
    let _ = caller;
    let headers = body.webhook.headers.unwrap_or_else(|| json!({}));
    let triggers = body.webhook.triggers.unwrap_or_default();
    let target = check(&state, &body.webhook.url, &headers, &triggers).await?;
    let event = body
        .payload
        .get("event")
        .and_then(Value::as_str)
        .unwrap_or("commit")
        .to_owned();
    let text = serde_json::to_string(&body.payload)?;
    let outgoing = Outgoing {
        url: &target,
        headers: &headers,
        secret: None,
        event: &event,
        delivery_id: Uuid::now_v7(),
        body: &text,
    };
    let timeout = Duration::from_secs(state.config.hub.webhook_timeout_secs);
    let client = webhooks::client(state.config.hub.allow_private_webhook_targets, timeout);
    Ok(Json(
        match webhooks::send(&client, &outgoing, timeout).await {
            Ok(code) => json!({"status": code.to_string(), "message": "sent"}),
            Err(error) => json!({"status": "error", "message": error}),
        },
    ))
}
