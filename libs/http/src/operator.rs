//! Operator endpoints: what the installation's operator, not any tenant, may call (dead letters,
//! organisations' plan limits). They take the operator credential, `auth.operator_token`, as
//! `Authorization: Bearer <token>`; with no token configured they do not exist (404), and a
//! wrong or missing token is a 401. The edge never forwards them.

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::IntoResponse;
use ironsmith_config::Secret;
use subtle::ConstantTimeEq;

use crate::ApiError;

/// Wraps `routes` so that each needs the operator credential.
pub fn operator_only<S>(routes: Router<S>, token: &Secret) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let token = token.expose().to_owned();
    routes.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let token = token.clone();
            async move {
                if token.is_empty() {
                    return ApiError::NotFound("Not Found".into()).into_response();
                }
                let presented = request
                    .headers()
                    .get(http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .unwrap_or("")
                    .trim();
                if bool::from(presented.as_bytes().ct_eq(token.as_bytes())) {
                    next.run(request).await
                } else {
                    ApiError::Unauthorized("This endpoint needs the operator credential".into())
                        .into_response()
                }
            }
        },
    ))
}
