//! `users`: people who sign in. Emails are stored lower-cased.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::DbError;

#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    pub password_hash: Option<String>,
    pub default_workspace_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// A new account; `email` must already be lower-cased.
#[derive(Debug)]
pub struct NewUser<'a> {
    pub id: Uuid,
    pub email: &'a str,
    pub full_name: &'a str,
    pub password_hash: Option<&'a str>,
    pub default_workspace_id: Option<Uuid>,
}

pub async fn create(db: impl PgExecutor<'_>, user: &NewUser<'_>) -> Result<(), DbError> {
    sqlx::query!(
        "INSERT INTO users (id, email, full_name, password_hash, default_workspace_id)
         VALUES ($1, $2, $3, $4, $5)",
        user.id,
        user.email,
        user.full_name,
        user.password_hash,
        user.default_workspace_id
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn get(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<User>, DbError> {
    Ok(sqlx::query_as!(
        User,
        "SELECT id, email, full_name, password_hash, default_workspace_id, created_at
         FROM users WHERE id = $1",
        id
    )
    .fetch_optional(db)
    .await?)
}

pub async fn by_email(db: impl PgExecutor<'_>, email: &str) -> Result<Option<User>, DbError> {
    Ok(sqlx::query_as!(
        User,
        "SELECT id, email, full_name, password_hash, default_workspace_id, created_at
         FROM users WHERE email = lower($1)",
        email
    )
    .fetch_optional(db)
    .await?)
}

pub async fn by_oidc_subject(
    db: impl PgExecutor<'_>,
    issuer: &str,
    subject: &str,
) -> Result<Option<User>, DbError> {
    Ok(sqlx::query_as!(
        User,
        "SELECT id, email, full_name, password_hash, default_workspace_id, created_at
         FROM users WHERE oidc_issuer = $1 AND oidc_subject = $2",
        issuer,
        subject
    )
    .fetch_optional(db)
    .await?)
}

pub async fn link_oidc(
    db: impl PgExecutor<'_>,
    id: Uuid,
    issuer: &str,
    subject: &str,
) -> Result<(), DbError> {
    sqlx::query!(
        "UPDATE users SET oidc_issuer = $2, oidc_subject = $3 WHERE id = $1",
        id,
        issuer,
        subject
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn set_password_hash(
    db: impl PgExecutor<'_>,
    id: Uuid,
    password_hash: &str,
) -> Result<(), DbError> {
    sqlx::query!(
        "UPDATE users SET password_hash = $2 WHERE id = $1",
        id,
        password_hash
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn set_default_workspace(
    db: impl PgExecutor<'_>,
    id: Uuid,
    workspace_id: Option<Uuid>,
) -> Result<(), DbError> {
    sqlx::query!(
        "UPDATE users SET default_workspace_id = $2 WHERE id = $1",
        id,
        workspace_id
    )
    .execute(db)
    .await?;
    Ok(())
}
