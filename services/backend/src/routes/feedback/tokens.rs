//! Feedback tokens: presigned links that record feedback on a run without an API key.

use super::*;

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub(super) struct ExpiresIn {
    #[serde(default)]
    days: i64,
    #[serde(default)]
    hours: i64,
    #[serde(default)]
    minutes: i64,
}

impl ExpiresIn {
    /// `now` plus this delta; `None` when any part, or the sum, is out of range.
    fn after(&self, now: chrono::DateTime<Utc>) -> Option<chrono::DateTime<Utc>> {
        let delta = Duration::try_days(self.days)?
            .checked_add(&Duration::try_hours(self.hours)?)?
            .checked_add(&Duration::try_minutes(self.minutes)?)?;
        now.checked_add_signed(delta)
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct TokenBody {
    /// Proposed by the SDKs; read only to refuse a malformed one.
    #[serde(default, rename = "id")]
    _proposed_id: Option<Uuid>,
    #[serde(default)]
    run_id: Option<Uuid>,
    #[serde(default)]
    #[schema(value_type = String, required = true, min_length = 1, pattern = "\\S")]
    feedback_key: Option<String>,
    #[serde(default)]
    feedback_config: Option<Value>,
    #[serde(default)]
    expires_in: Option<ExpiresIn>,
    #[serde(default, deserialize_with = "lenient_time")]
    #[schema(schema_with = ironsmith_api_types::timestamp::lenient_schema)]
    expires_at: Option<i64>,
}

/// One token request, or a list of them.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub(super) enum TokenRequest {
    Many(Vec<TokenBody>),
    One(TokenBody),
}

fn render_token(state: &AppState, token: FeedbackToken) -> resources::FeedbackToken {
    let base = state.config.public.api_url.as_str().trim_end_matches('/');
    resources::FeedbackToken {
        id: token.id,
        url: format!("{base}/feedback/tokens/{}", token.id),
        expires_at: token.expires_at,
        feedback_key: token.feedback_key,
        run_id: token.run_id,
    }
}

/// A token lives three hours unless told otherwise, at most a year.
const DEFAULT_TOKEN_LIFE: Duration = Duration::hours(3);

#[utoipa::path(post, path = "/feedback/tokens", tag = "feedback",
    request_body = TokenRequest, responses((status = 200, body = resources::FeedbackTokens)))]
pub(super) async fn create_tokens(
    State(state): State<AppState>,
    caller: RequirePermission<FeedbackCreate>,
    ironsmith_http::Json(request): ironsmith_http::Json<TokenRequest>,
) -> Result<Json<resources::FeedbackTokens>, ApiError> {
    let (bodies, many) = match request {
        TokenRequest::Many(bodies) => (bodies, true),
        TokenRequest::One(body) => (vec![body], false),
    };
    let now = Utc::now();
    let mut created = Vec::with_capacity(bodies.len());
    for body in bodies {
        let run_id = body
            .run_id
            .ok_or_else(|| invalid("run_id", "is required".into()))?;
        let key = body
            .feedback_key
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| invalid("feedback_key", "is required".into()))?;
        if let Some(config) = body.feedback_config.as_ref().filter(|c| !c.is_null()) {
            check_config(config)?;
        }
        let expires_at = match (body.expires_at, body.expires_in) {
            (Some(at), _) => chrono::DateTime::from_timestamp_micros(at)
                .ok_or_else(|| invalid("expires_at", "is out of range".into()))?,
            (None, Some(delta)) => delta
                .after(now)
                .ok_or_else(|| invalid("expires_in", "is out of range".into()))?,
            (None, None) => now + DEFAULT_TOKEN_LIFE,
        };
        if expires_at <= now || expires_at > now + Duration::days(366) {
            return Err(invalid(
                "expires_at",
                "must be in the future and within a year".into(),
            ));
        }
        let token = feedback_tokens::create(
            &state.stores.postgres,
            &FeedbackToken {
                // The token is a capability: the server mints it. A proposed id is not used,
                // so it reveals nothing about the tokens that exist; the SDKs use the `url`
                // and `id` of the answer.
                id: Uuid::new_v4(),
                tenant_id: caller.workspace_id,
                run_id,
                feedback_key: key,
                feedback_config: body.feedback_config.filter(|c| !c.is_null()),
                expires_at,
                created_at: now,
            },
        )
        .await
        .map_err(|e| {
            if e.is_unique_violation() {
                ApiError::Conflict("A feedback token with this id already exists".into())
            } else {
                ApiError::from(e)
            }
        })?;
        created.push(render_token(&state, token));
    }
    match (many, created.pop()) {
        (false, Some(one)) => Ok(Json(resources::FeedbackTokens::One(one))),
        (_, last) => {
            created.extend(last);
            Ok(Json(resources::FeedbackTokens::Many(created)))
        }
    }
}

#[utoipa::path(get, path = "/feedback/tokens", tag = "feedback",
    params(("run_id" = Uuid, Query),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100),
        ("offset" = Option<i64>, Query, minimum = 0)),
    responses((status = 200, body = [resources::FeedbackToken])))]
pub(super) async fn list_tokens(
    State(state): State<AppState>,
    caller: RequirePermission<FeedbackRead>,
    query: QueryPairs,
) -> Result<Json<Vec<resources::FeedbackToken>>, ApiError> {
    let (offset, limit) = query.page(100)?;
    let run_id = query.uuid("run_id")?.ok_or_else(|| {
        ApiError::Unprocessable(vec![ValidationIssue {
            loc: vec!["query".into(), "run_id".into()],
            msg: "is required".into(),
            kind: "value_error".into(),
        }])
    })?;
    let tokens = feedback_tokens::list(
        &state.stores.postgres,
        caller.workspace_id,
        run_id,
        offset,
        limit,
    )
    .await?;
    Ok(Json(
        tokens
            .into_iter()
            .map(|t| render_token(&state, t))
            .collect(),
    ))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub(super) struct Submission {
    #[serde(default)]
    score: Option<Value>,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    correction: Option<Value>,
    #[serde(default)]
    metadata: Option<Value>,
}

/// Records feedback through a token; no key is needed (the token is the capability).
async fn submit(
    state: &AppState,
    token: &str,
    submission: Submission,
) -> Result<Json<resources::Message>, ApiError> {
    let id = Uuid::parse_str(token)
        .map_err(|_| ApiError::NotFound("Feedback token not found".into()))?;
    let token = feedback_tokens::by_id(&state.stores.postgres, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("Feedback token not found".into()))?;
    if token.expires_at <= Utc::now() {
        return Err(ApiError::BadRequest(
            "The feedback token has expired".into(),
        ));
    }
    let cap = state.config.limits.feedback_token_submissions;
    if !feedback_tokens::count_submission(&state.stores.postgres, token.id, cap).await? {
        return Err(ApiError::TooManyRequests {
            message: format!("This feedback token has recorded its {cap} submissions"),
            retry_after_secs: u64::try_from((token.expires_at - Utc::now()).num_seconds())
                .unwrap_or(1),
        });
    }
    crate::feedback::record_batched(
        state,
        token.tenant_id,
        FeedbackWire {
            key: Some(token.feedback_key.clone()),
            run_id: Some(token.run_id),
            score: score_of(submission.score.as_ref().unwrap_or(&Value::Null))?,
            value: submission.value.as_ref().and_then(raw_json),
            comment: submission.comment,
            correction: submission.correction.as_ref().and_then(raw_json),
            feedback_source: raw_json(&json!({
                "type": "app",
                "metadata": submission.metadata.unwrap_or_else(|| json!({})),
            })),
            feedback_config: token.feedback_config.as_ref().and_then(raw_json),
            extra: raw_json(&json!({"feedback_token_id": token.id})),
            ..FeedbackWire::default()
        },
    )
    .await?;
    Ok(Json(resources::Message {
        message: "Feedback recorded".into(),
    }))
}

#[utoipa::path(post, path = "/feedback/tokens/{token}", tag = "feedback", security(()),
    request_body = Option<Submission>,
    params(("token" = String, Path)),
    responses((status = 200, body = resources::Message)))]
pub(super) async fn submit_by_body(
    State(state): State<AppState>,
    _public: PublicAccess,
    Path(token): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<resources::Message>, ApiError> {
    let submission = if body.iter().all(u8::is_ascii_whitespace) {
        Submission::default()
    } else {
        ironsmith_http::extract::parse_json::<Option<Submission>>(&body)?.unwrap_or_default()
    };
    submit(&state, &token, submission).await
}

/// `GET` with the feedback in the query string, so the URL works when opened in a browser.
#[utoipa::path(get, path = "/feedback/tokens/{token}", tag = "feedback", security(()),
    params(("token" = String, Path),
        ("score" = Option<String>, Query, description = "A number or a boolean"),
        ("value" = Option<String>, Query, description = "JSON, or plain text"),
        ("comment" = Option<String>, Query),
        ("correction" = Option<String>, Query, description = "JSON, or plain text")),
    responses((status = 200, body = resources::Message)))]
pub(super) async fn submit_by_query(
    State(state): State<AppState>,
    _public: PublicAccess,
    Path(token): Path<String>,
    query: QueryPairs,
) -> Result<Json<resources::Message>, ApiError> {
    let as_json = |text: &str| serde_json::from_str(text).unwrap_or(Value::String(text.to_owned()));
    let submission = Submission {
        score: query.get("score").map(as_json),
        value: query.get("value").map(as_json),
        comment: query.get("comment").map(str::to_owned),
        correction: query.get("correction").map(as_json),
        metadata: None,
    };
    submit(&state, &token, submission).await
}
