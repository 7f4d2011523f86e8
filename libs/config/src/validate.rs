//! Checks that serde cannot express: URL schemes, identifiers, cross-field rules.

use url::Url;

use crate::{
    AuthConfig, Config, ConfigError, LimitsConfig, LoginMode, ObjectStorageConfig, Region,
    StorageEngine,
};

pub(crate) fn validate(config: &Config) -> Result<(), ConfigError> {
    stores_and_services(config)?;
    object_storage(&config.object_storage)?;
    auth(&config.auth)?;
    limits(&config.limits)?;
    ingest(config)?;
    secrets(config)?;
    positive("http.max_connections", config.http.max_connections as u64)?;
    // A pending delivery counts as left behind only after this long: 0 would queue again the
    // ones being sent or retried.
    positive("hub.webhook_stale_secs", config.hub.webhook_stale_secs)?;
    positive(
        "http.header_read_timeout_secs",
        config.http.header_read_timeout_secs,
    )?;

    positive(
        "runs.attachment_url_ttl_secs",
        config.runs.attachment_url_ttl_secs,
    )?;
    positive(
        "runs.payload_fetch_concurrency",
        config.runs.payload_fetch_concurrency as u64,
    )?;

    if config.billing.region != Region::Us {
        return invalid(
            "billing.region",
            "billing is region-independent and lives in the US stack only",
        );
    }
    Ok(())
}

/// Store connections, and the services' own knobs.
fn stores_and_services(config: &Config) -> Result<(), ConfigError> {
    url_with_scheme(
        "postgres.url",
        config.postgres.url.expose(),
        &["postgres", "postgresql"],
    )?;
    if !config.postgres.replica_url.is_empty() {
        url_with_scheme(
            "postgres.replica_url",
            config.postgres.replica_url.expose(),
            &["postgres", "postgresql"],
        )?;
    }
    url_with_scheme("redis.url", config.redis.url.expose(), &["redis", "rediss"])?;
    scheme("clickhouse.url", &config.clickhouse.url, &["http", "https"])?;
    identifier("clickhouse.database", &config.clickhouse.database)?;
    if !config.clickhouse.cluster.is_empty() {
        identifier("clickhouse.cluster", &config.clickhouse.cluster)?;
    }
    key_prefix("redis.key_prefix", &config.redis.key_prefix)?;
    key_prefix("object_storage.prefix", &config.object_storage.prefix)?;
    positive(
        "postgres.max_connections",
        u64::from(config.postgres.max_connections),
    )?;
    positive(
        "services.queue.concurrency",
        config.services.queue.concurrency as u64,
    )?;
    positive(
        "services.queue.batch_size",
        config.services.queue.batch_size as u64,
    )?;
    positive(
        "services.queue.max_deliveries",
        config.services.queue.max_deliveries,
    )?;
    positive("http.max_body_bytes", config.http.max_body_bytes as u64)?;
    positive(
        "http.readiness_timeout_ms",
        config.http.readiness_timeout_ms,
    )?;
    Ok(())
}

fn object_storage(storage: &ObjectStorageConfig) -> Result<(), ConfigError> {
    match storage.engine {
        StorageEngine::S3 | StorageEngine::Gcs if storage.bucket.trim().is_empty() => {
            return invalid(
                "object_storage.bucket",
                "the s3 and gcs engines need a bucket",
            );
        }
        StorageEngine::Local if storage.local_path.as_os_str().is_empty() => {
            return invalid(
                "object_storage.local_path",
                "the local engine needs a folder",
            );
        }
        _ => {}
    }
    if !storage.endpoint.is_empty() {
        url_with_scheme(
            "object_storage.endpoint",
            &storage.endpoint,
            &["http", "https"],
        )?;
    }
    Ok(())
}

fn auth(auth: &AuthConfig) -> Result<(), ConfigError> {
    for (key, secret) in [
        ("auth.jwt_secret", &auth.jwt_secret),
        ("auth.api_key_salt", &auth.api_key_salt),
        ("auth.operator_token", &auth.operator_token),
    ] {
        // Empty is allowed here (the frontend and playground never authenticate); the services
        // that do refuse to start without it.
        if !secret.is_empty() && secret.expose().len() < 32 {
            return invalid(key, "must be at least 32 characters");
        }
    }
    positive("auth.session_max_secs", auth.session_max_secs)?;
    positive("auth.cache_secs", auth.cache_secs)?;
    positive("auth.invitation_max_secs", auth.invitation_max_secs)?;
    if auth.mode == LoginMode::Oidc {
        url_with_scheme(
            "auth.oidc.issuer_url",
            &auth.oidc.issuer_url,
            &["http", "https"],
        )?;
        if auth.oidc.client_id.is_empty() {
            return invalid("auth.oidc.client_id", "oidc login needs a client id");
        }
    }
    if !auth.oidc.redirect_url.is_empty() {
        url_with_scheme(
            "auth.oidc.redirect_url",
            &auth.oidc.redirect_url,
            &["http", "https"],
        )?;
    }
    if !matches!(
        auth.oidc.provision_workspace_role.as_str(),
        "WORKSPACE_ADMIN" | "WORKSPACE_EDITOR" | "WORKSPACE_VIEWER"
    ) {
        return invalid(
            "auth.oidc.provision_workspace_role",
            "one of WORKSPACE_ADMIN, WORKSPACE_EDITOR, WORKSPACE_VIEWER",
        );
    }
    Ok(())
}

fn limits(limits: &LimitsConfig) -> Result<(), ConfigError> {
    for (key, limit) in [
        ("limits.ingest", limits.ingest),
        ("limits.multipart", limits.multipart),
        ("limits.run_query", limits.run_query),
        ("limits.default", limits.default),
        ("limits.unauthenticated", limits.unauthenticated),
        ("limits.public", limits.public),
    ] {
        if limit.requests == 0 || limit.window_secs == 0 {
            return invalid(key, "requests and window_secs must be positive");
        }
    }
    Ok(())
}

/// Ingestion caps, and what they must agree with (the edge's body cap, `/info`).
fn ingest(config: &Config) -> Result<(), ConfigError> {
    let ingest = &config.ingest;
    positive("ingest.max_body_bytes", ingest.max_body_bytes as u64)?;
    positive(
        "ingest.max_decompressed_bytes",
        ingest.max_decompressed_bytes as u64,
    )?;
    positive(
        "ingest.max_runs_per_request",
        ingest.max_runs_per_request as u64,
    )?;
    positive("ingest.max_runs_per_trace", ingest.max_runs_per_trace)?;
    positive("ingest.shards", u64::from(ingest.shards))?;
    positive("ingest.lease_ms", ingest.lease_ms)?;
    positive("ingest.batch_rows", ingest.batch_rows as u64)?;
    positive("ingest.max_payload_bytes", ingest.max_payload_bytes as u64)?;
    positive("ingest.max_field_bytes", ingest.max_field_bytes as u64)?;
    positive(
        "ingest.object_write_concurrency",
        ingest.object_write_concurrency as u64,
    )?;
    positive("ingest.sdk_batch_runs", ingest.sdk_batch_runs as u64)?;
    if ingest.sdk_batch_runs > ingest.max_runs_per_request {
        return invalid(
            "ingest.sdk_batch_runs",
            "must be at most ingest.max_runs_per_request (the SDKs would send batches we refuse)",
        );
    }
    positive("ingest.sdk_batch_bytes", ingest.sdk_batch_bytes as u64)?;
    if ingest.sdk_batch_bytes > ingest.max_body_bytes.min(config.http.max_body_bytes) {
        return invalid(
            "ingest.sdk_batch_bytes",
            "must be at most ingest.max_body_bytes and http.max_body_bytes (the SDKs would send \
             batches we refuse)",
        );
    }
    if ingest.max_decoding_bytes < ingest.max_decompressed_bytes {
        return invalid(
            "ingest.max_decoding_bytes",
            "must be at least ingest.max_decompressed_bytes (one body must fit)",
        );
    }
    Ok(())
}

fn secrets(config: &Config) -> Result<(), ConfigError> {
    if !config.secrets.encryption_key.is_empty()
        && let Err(reason) = crate::EncryptionKey::parse(&config.secrets.encryption_key)
    {
        return invalid("secrets.encryption_key", reason);
    }
    for key in &config.secrets.previous_encryption_keys {
        if let Err(reason) = crate::EncryptionKey::parse(key) {
            return invalid("secrets.previous_encryption_keys", reason);
        }
    }
    let token = &config.playground.internal_token;
    if !token.is_empty() && token.expose().len() < 24 {
        return invalid(
            "playground.internal_token",
            "must be at least 24 characters (or empty to turn the playground off)",
        );
    }
    let playground = &config.playground;
    positive(
        "playground.connect_timeout_secs",
        playground.connect_timeout_secs,
    )?;
    positive(
        "playground.request_timeout_secs",
        playground.request_timeout_secs,
    )?;
    positive("playground.idle_timeout_secs", playground.idle_timeout_secs)?;
    positive(
        "playground.max_response_bytes",
        playground.max_response_bytes,
    )?;
    positive(
        "playground.max_concurrent_per_workspace",
        playground.max_concurrent_per_workspace as u64,
    )?;
    positive(
        "playground.experiment_concurrency",
        playground.experiment_concurrency as u64,
    )
}

fn invalid(key: &'static str, reason: impl Into<String>) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid {
        key,
        reason: reason.into(),
    })
}

fn url_with_scheme(key: &'static str, value: &str, schemes: &[&str]) -> Result<(), ConfigError> {
    match Url::parse(value) {
        Ok(url) => scheme(key, &url, schemes),
        // Never echo the value: it may carry a password.
        Err(e) => invalid(key, format!("not a valid URL ({e})")),
    }
}

fn scheme(key: &'static str, url: &Url, schemes: &[&str]) -> Result<(), ConfigError> {
    if schemes.contains(&url.scheme()) {
        Ok(())
    } else {
        invalid(
            key,
            format!(
                "scheme {:?} is not one of {}",
                url.scheme(),
                schemes.join(", ")
            ),
        )
    }
}

fn identifier(key: &'static str, value: &str) -> Result<(), ConfigError> {
    let ok = !value.is_empty()
        && !value.starts_with(|c: char| c.is_ascii_digit())
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        invalid(
            key,
            "must be letters, digits and underscores, not starting with a digit",
        )
    }
}

fn key_prefix(key: &'static str, value: &str) -> Result<(), ConfigError> {
    if value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-:/.".contains(c))
    {
        Ok(())
    } else {
        invalid(key, "may hold only letters, digits and _ - : / .")
    }
}

fn positive(key: &'static str, value: u64) -> Result<(), ConfigError> {
    if value > 0 {
        Ok(())
    } else {
        invalid(key, "must be greater than zero")
    }
}
