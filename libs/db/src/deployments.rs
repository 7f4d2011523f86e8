//! `deployments`, `deployment_revisions` and `deployment_logs`: the Agent Server deployments of
//! the control plane. The rules (which fields are mutable, the status machines) are the
//! backend's; this module only reads and writes rows.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::DbError;

#[derive(Debug, Clone)]
pub struct Deployment {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub display_name: Option<String>,
    pub source: String,
    pub source_config: Value,
    pub secret_references: Option<Value>,
    pub secrets_ciphertext: Option<Vec<u8>>,
    pub secrets_wrapped_key: Option<Vec<u8>>,
    pub secrets_key_id: Option<String>,
    pub listener_id: Option<Uuid>,
    pub k8s_namespace: Option<String>,
    pub project_id: Option<Uuid>,
    pub status: String,
    pub latest_revision_id: Option<Uuid>,
    pub active_revision_id: Option<Uuid>,
    pub image_version: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Sealed secrets: ciphertext, wrapped data key and the id of the wrapping key.
#[derive(Debug, Clone, Default)]
pub struct SealedSecrets {
    pub ciphertext: Option<Vec<u8>>,
    pub wrapped_key: Option<Vec<u8>>,
    pub key_id: Option<String>,
}

pub struct NewDeployment<'a> {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: &'a str,
    pub source: &'a str,
    pub source_config: &'a Value,
    pub secret_references: Option<&'a Value>,
    pub secrets: &'a SealedSecrets,
    pub listener_id: Option<Uuid>,
    pub k8s_namespace: Option<&'a str>,
    pub project_id: Option<Uuid>,
    pub status: &'a str,
}

pub async fn insert(db: impl PgExecutor<'_>, new: &NewDeployment<'_>) -> Result<(), DbError> {
    sqlx::query!(
        "INSERT INTO deployments
           (id, tenant_id, name, source, source_config, secret_references, secrets_ciphertext,
            secrets_wrapped_key, secrets_key_id, listener_id, k8s_namespace, project_id, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        new.id,
        new.tenant_id,
        new.name,
        new.source,
        new.source_config,
        new.secret_references,
        new.secrets.ciphertext.as_deref(),
        new.secrets.wrapped_key.as_deref(),
        new.secrets.key_id.as_deref(),
        new.listener_id,
        new.k8s_namespace,
        new.project_id,
        new.status,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Filters of `GET /v2/deployments`. Empty lists and `None` filter nothing.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub name: Option<String>,
    pub name_contains: Option<String>,
    pub statuses: Vec<String>,
    pub ids: Vec<Uuid>,
    pub listener_id: Option<Uuid>,
    pub image_version: Option<String>,
    pub deployment_type: Option<String>,
    /// `Some(true)`: only deployments bound to a listener; `Some(false)`: only unbound ones.
    pub remote_reconciled: Option<bool>,
    pub limit: i64,
    pub offset: i64,
}

pub async fn list(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    filter: &Filter,
) -> Result<Vec<Deployment>, DbError> {
    Ok(sqlx::query_as!(
        Deployment,
        r#"SELECT id, tenant_id, name, display_name, source, source_config, secret_references,
                  secrets_ciphertext, secrets_wrapped_key, secrets_key_id, listener_id,
                  k8s_namespace, project_id, status, latest_revision_id, active_revision_id,
                  image_version, created_at, updated_at
           FROM deployments
           WHERE tenant_id = $1
             AND ($2::text IS NULL OR name = $2)
             AND ($3::text IS NULL OR strpos(lower(name), lower($3)) > 0)
             AND (cardinality($4::text[]) = 0 OR status = ANY($4))
             AND (cardinality($5::uuid[]) = 0 OR id = ANY($5))
             AND ($6::uuid IS NULL OR listener_id = $6)
             AND ($7::text IS NULL OR image_version = $7)
             AND ($8::text IS NULL OR source_config->>'deployment_type' = $8)
             AND ($9::bool IS NULL OR (listener_id IS NOT NULL) = $9)
           ORDER BY created_at DESC, id
           LIMIT $10 OFFSET $11"#,
        tenant_id,
        filter.name,
        filter.name_contains,
        &filter.statuses,
        &filter.ids,
        filter.listener_id,
        filter.image_version,
        filter.deployment_type,
        filter.remote_reconciled,
        filter.limit,
        filter.offset,
    )
    .fetch_all(db)
    .await?)
}

pub async fn get(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<Deployment>, DbError> {
    Ok(sqlx::query_as!(
        Deployment,
        "SELECT id, tenant_id, name, display_name, source, source_config, secret_references,
                secrets_ciphertext, secrets_wrapped_key, secrets_key_id, listener_id,
                k8s_namespace, project_id, status, latest_revision_id, active_revision_id,
                image_version, created_at, updated_at
         FROM deployments WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        id
    )
    .fetch_optional(db)
    .await?)
}

/// The deployment, locked for the rest of the transaction.
pub async fn lock(
    db: impl PgExecutor<'_>,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<Deployment>, DbError> {
    Ok(sqlx::query_as!(
        Deployment,
        "SELECT id, tenant_id, name, display_name, source, source_config, secret_references,
                secrets_ciphertext, secrets_wrapped_key, secrets_key_id, listener_id,
                k8s_namespace, project_id, status, latest_revision_id, active_revision_id,
                image_version, created_at, updated_at
         FROM deployments WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
        tenant_id,
        id
    )
    .fetch_optional(db)
    .await?)
}

/// What a PATCH stores on the deployment row.
pub struct Update<'a> {
    pub source_config: &'a Value,
    pub secret_references: Option<&'a Value>,
    pub secrets: &'a SealedSecrets,
    pub latest_revision_id: Option<Uuid>,
    pub image_version: Option<&'a str>,
}

pub async fn update(db: impl PgExecutor<'_>, id: Uuid, update: &Update<'_>) -> Result<(), DbError> {
    sqlx::query!(
        "UPDATE deployments SET source_config = $2, secret_references = $3,
                secrets_ciphertext = $4, secrets_wrapped_key = $5, secrets_key_id = $6,
                latest_revision_id = $7, image_version = $8, updated_at = now()
         WHERE id = $1",
        id,
        update.source_config,
        update.secret_references,
        update.secrets.ciphertext.as_deref(),
        update.secrets.wrapped_key.as_deref(),
        update.secrets.key_id.as_deref(),
        update.latest_revision_id,
        update.image_version,
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn set_latest_revision(
    db: impl PgExecutor<'_>,
    id: Uuid,
    revision_id: Uuid,
) -> Result<(), DbError> {
    sqlx::query!(
        "UPDATE deployments SET latest_revision_id = $2, updated_at = now() WHERE id = $1",
        id,
        revision_id
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn set_display_name(
    db: impl PgExecutor<'_>,
    id: Uuid,
    name: &str,
) -> Result<(), DbError> {
    sqlx::query!(
        "UPDATE deployments SET display_name = $2, updated_at = now() WHERE id = $1",
        id,
        name
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn set_status(db: impl PgExecutor<'_>, id: Uuid, status: &str) -> Result<(), DbError> {
    sqlx::query!(
        "UPDATE deployments SET status = $2, updated_at = now() WHERE id = $1",
        id,
        status
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Records a rollout that reached `DEPLOYED`: the revision serves, the deployment is `READY`
/// (unless it is being deleted) and, when it had none, its URL is the revision's endpoint.
pub async fn mark_deployed(
    db: impl PgExecutor<'_>,
    id: Uuid,
    revision_id: Uuid,
    endpoint: Option<&str>,
) -> Result<(), DbError> {
    sqlx::query!(
        r#"UPDATE deployments SET
             active_revision_id = $2,
             status = CASE WHEN status IN ('AWAITING_DELETE', 'AWAITING_FINAL_DELETE') THEN status
                           ELSE 'READY' END,
             source_config = CASE
               WHEN $3::text IS NOT NULL AND coalesce(source_config->>'custom_url', '') = ''
               THEN jsonb_set(source_config, '{custom_url}', to_jsonb($3::text))
               ELSE source_config END,
             updated_at = now()
           WHERE id = $1"#,
        id,
        revision_id,
        endpoint,
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn remove(db: impl PgExecutor<'_>, id: Uuid) -> Result<(), DbError> {
    sqlx::query!("DELETE FROM deployments WHERE id = $1", id)
        .execute(db)
        .await?;
    Ok(())
}

/// How many deployments are bound to the listener.
pub async fn count_bound_to_listener(
    db: impl PgExecutor<'_>,
    listener_id: Uuid,
) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM deployments WHERE listener_id = $1"#,
        listener_id
    )
    .fetch_one(db)
    .await?)
}

/// The namespaces the listener's deployments live in.
pub async fn namespaces_in_use(
    db: impl PgExecutor<'_>,
    listener_id: Uuid,
) -> Result<Vec<String>, DbError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT DISTINCT k8s_namespace AS "ns!" FROM deployments
           WHERE listener_id = $1 AND k8s_namespace IS NOT NULL"#,
        listener_id
    )
    .fetch_all(db)
    .await?)
}

#[derive(Debug, Clone)]
pub struct Revision {
    pub id: Uuid,
    pub deployment_id: Uuid,
    pub source: String,
    pub source_revision_config: Value,
    pub status: String,
    pub status_message: Option<String>,
    pub endpoint: Option<String>,
    pub lease_holder: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub async fn insert_revision(
    db: impl PgExecutor<'_>,
    id: Uuid,
    deployment_id: Uuid,
    source: &str,
    source_revision_config: &Value,
    status: &str,
) -> Result<Revision, DbError> {
    Ok(sqlx::query_as!(
        Revision,
        "INSERT INTO deployment_revisions (id, deployment_id, source, source_revision_config, status)
         VALUES ($1, $2, $3, $4, $5)
         RETURNING id, deployment_id, source, source_revision_config, status, status_message,
                   endpoint, lease_holder, lease_expires_at, created_at, updated_at",
        id,
        deployment_id,
        source,
        source_revision_config,
        status,
    )
    .fetch_one(db)
    .await?)
}

/// The deployment's revisions, newest first, optionally only those in `statuses`.
pub async fn list_revisions(
    db: impl PgExecutor<'_>,
    deployment_id: Uuid,
    statuses: &[String],
    limit: i64,
    offset: i64,
) -> Result<Vec<Revision>, DbError> {
    Ok(sqlx::query_as!(
        Revision,
        "SELECT id, deployment_id, source, source_revision_config, status, status_message,
                endpoint, lease_holder, lease_expires_at, created_at, updated_at
         FROM deployment_revisions
         WHERE deployment_id = $1 AND (cardinality($2::text[]) = 0 OR status = ANY($2))
         ORDER BY seq DESC LIMIT $3 OFFSET $4",
        deployment_id,
        statuses,
        limit,
        offset,
    )
    .fetch_all(db)
    .await?)
}

pub async fn get_revision(
    db: impl PgExecutor<'_>,
    deployment_id: Uuid,
    id: Uuid,
) -> Result<Option<Revision>, DbError> {
    Ok(sqlx::query_as!(
        Revision,
        "SELECT id, deployment_id, source, source_revision_config, status, status_message,
                endpoint, lease_holder, lease_expires_at, created_at, updated_at
         FROM deployment_revisions WHERE deployment_id = $1 AND id = $2",
        deployment_id,
        id
    )
    .fetch_optional(db)
    .await?)
}

/// A status change of a revision, with the lease it is made under.
pub struct RevisionStatus<'a> {
    pub status: &'a str,
    pub message: Option<&'a str>,
    pub endpoint: Option<&'a str>,
    pub lease_holder: Option<&'a str>,
    pub lease_secs: Option<i64>,
}

pub async fn set_revision_status(
    db: impl PgExecutor<'_>,
    id: Uuid,
    change: &RevisionStatus<'_>,
) -> Result<Revision, DbError> {
    Ok(sqlx::query_as!(
        Revision,
        "UPDATE deployment_revisions SET
             status = $2,
             status_message = COALESCE($3, status_message),
             endpoint = COALESCE($4, endpoint),
             lease_holder = $5,
             lease_expires_at = CASE WHEN $5::text IS NULL THEN NULL
                                     ELSE now() + make_interval(secs => $6) END,
             -- A repeated status (a lease renewal) keeps the time the status was entered.
             updated_at = CASE WHEN status = $2 THEN updated_at ELSE now() END
         WHERE id = $1
         RETURNING id, deployment_id, source, source_revision_config, status, status_message,
                   endpoint, lease_holder, lease_expires_at, created_at, updated_at",
        id,
        change.status,
        change.message,
        change.endpoint,
        change.lease_holder,
        change.lease_secs.unwrap_or(0) as f64,
    )
    .fetch_one(db)
    .await?)
}

/// Marks the deployment's revisions that are still waiting in `from` as `status` (superseded:
/// `SKIPPED`; the deployment is going away: `INTERRUPTED`), except `keep`.
pub async fn settle_pending_revisions(
    db: impl PgExecutor<'_>,
    deployment_id: Uuid,
    keep: Option<Uuid>,
    from: &[String],
    status: &str,
    message: &str,
) -> Result<u64, DbError> {
    Ok(sqlx::query!(
        "UPDATE deployment_revisions SET status = $4, status_message = $5, lease_holder = NULL,
                lease_expires_at = NULL, updated_at = now()
         WHERE deployment_id = $1 AND ($2::uuid IS NULL OR id <> $2) AND status = ANY($3)",
        deployment_id,
        keep,
        from,
        status,
        message,
    )
    .execute(db)
    .await?
    .rows_affected())
}

#[derive(Debug, Clone)]
pub struct LogLine {
    pub id: i64,
    pub logged_at: DateTime<Utc>,
    pub level: String,
    pub message: String,
}

pub struct NewLogLine<'a> {
    pub logged_at: DateTime<Utc>,
    pub level: &'a str,
    pub message: &'a str,
}

/// Appends log lines to a revision, keeping at most `cap` of each kind per revision; returns
/// how many were stored.
pub async fn append_logs(
    db: impl PgExecutor<'_>,
    deployment_id: Uuid,
    revision_id: Uuid,
    kind: &str,
    lines: &[NewLogLine<'_>],
    cap: i64,
) -> Result<u64, DbError> {
    let at: Vec<DateTime<Utc>> = lines.iter().map(|l| l.logged_at).collect();
    let levels: Vec<String> = lines.iter().map(|l| l.level.to_owned()).collect();
    let messages: Vec<String> = lines.iter().map(|l| l.message.to_owned()).collect();
    Ok(sqlx::query!(
        "INSERT INTO deployment_logs (deployment_id, revision_id, kind, logged_at, level, message)
         SELECT $1, $2, $3, t.at, t.level, t.message
         FROM unnest($4::timestamptz[], $5::text[], $6::text[]) WITH ORDINALITY
              AS t(at, level, message, n)
         WHERE t.n + (SELECT count(*) FROM deployment_logs
                      WHERE revision_id = $2 AND kind = $3) <= $7",
        deployment_id,
        revision_id,
        kind,
        &at,
        &levels,
        &messages,
        cap,
    )
    .execute(db)
    .await?
    .rows_affected())
}

/// A page of logs: of one revision, or of the whole deployment when `revision_id` is `None`.
pub struct LogQuery<'a> {
    pub deployment_id: Uuid,
    pub revision_id: Option<Uuid>,
    pub kind: &'a str,
    pub level: Option<&'a str>,
    pub contains: Option<&'a str>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub ascending: bool,
    /// Only lines after (ascending) or before (descending) this id.
    pub after_id: Option<i64>,
    pub limit: i64,
}

pub async fn logs(db: impl PgExecutor<'_>, q: &LogQuery<'_>) -> Result<Vec<LogLine>, DbError> {
    Ok(sqlx::query_as!(
        LogLine,
        "SELECT id, logged_at, level, message FROM deployment_logs
         WHERE deployment_id = $1 AND ($2::uuid IS NULL OR revision_id = $2) AND kind = $3
           AND ($4::text IS NULL OR lower(level) = lower($4))
           AND ($5::text IS NULL OR strpos(lower(message), lower($5)) > 0)
           AND ($6::timestamptz IS NULL OR logged_at >= $6)
           AND ($7::timestamptz IS NULL OR logged_at <= $7)
           AND ($9::bigint IS NULL OR (CASE WHEN $8 THEN id > $9 ELSE id < $9 END))
         ORDER BY CASE WHEN $8 THEN id END ASC, CASE WHEN NOT $8 THEN id END DESC
         LIMIT $10",
        q.deployment_id,
        q.revision_id,
        q.kind,
        q.level,
        q.contains,
        q.start,
        q.end,
        q.ascending,
        q.after_id,
        q.limit,
    )
    .fetch_all(db)
    .await?)
}
