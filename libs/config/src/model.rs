use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::secret::{Secret, SecretsConfig};
use serde::{Deserialize, Serialize};
use url::Url;

/// The whole configuration of one regional stack. Every binary loads the same struct and uses
/// the sections it needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub stack: StackConfig,
    pub public: PublicUrls,
    pub cloud: CloudConfig,
    pub billing: BillingConfig,
    pub beacon: BeaconConfig,
    pub telemetry: TelemetryConfig,
    pub http: HttpConfig,
    pub postgres: PostgresConfig,
    pub redis: RedisConfig,
    pub clickhouse: ClickHouseConfig,
    pub object_storage: ObjectStorageConfig,
    pub endpoints: InternalEndpoints,
    pub services: ServicesConfig,
    pub deployment: DeploymentConfig,
    pub bootstrap: BootstrapConfig,
    pub auth: AuthConfig,
    pub limits: LimitsConfig,
    pub ingest: IngestConfig,
    pub runs: RunsConfig,
    pub hub: HubConfig,
    pub secrets: SecretsConfig,
    pub playground: PlaygroundConfig,
}

/// The four regional stacks. An organisation lives in exactly one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    Us,
    Eu,
    Apac,
    Aws,
}

impl Region {
    pub const ALL: [Region; 4] = [Region::Us, Region::Eu, Region::Apac, Region::Aws];

    pub fn as_str(self) -> &'static str {
        match self {
            Region::Us => "us",
            Region::Eu => "eu",
            Region::Apac => "apac",
            Region::Aws => "aws",
        }
    }

    pub fn parse(name: &str) -> Option<Region> {
        Region::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackConfig {
    /// Which regional stack this process belongs to.
    pub region: Region,
    /// Free-form label shown in logs and `/info` (e.g. `production`, `staging`, `local`).
    pub environment: String,
}

/// Public URLs, as users and SDKs reach the stack.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicUrls {
    pub ui_url: Url,
    /// What users set as `LANGSMITH_ENDPOINT`: the UI origin plus `/api/v1`.
    pub api_url: Url,
    pub control_plane_url: Url,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CloudProvider {
    Gcp,
    Aws,
    /// A single machine (the local stack); no cloud services.
    Local,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudConfig {
    pub provider: CloudProvider,
    /// The provider's region name, e.g. `us-central1`.
    pub region: String,
}

/// Billing is region-independent: every stack talks to the one in the US.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingConfig {
    pub enabled: bool,
    pub url: Url,
    /// The region hosting billing; always `us`.
    pub region: Region,
}

/// Licence and usage reporting; regional.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BeaconConfig {
    pub enabled: bool,
    pub url: Url,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    pub log_format: LogFormat,
    /// A `tracing_subscriber::EnvFilter` directive, e.g. `info,sqlx=warn`.
    pub log_filter: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Upper bound on one request's handling, in seconds.
    pub request_timeout_secs: u64,
    /// How long in-flight requests and tasks get to finish after SIGTERM, in seconds.
    pub shutdown_grace_secs: u64,
    /// How long one readiness probe of a dependency may take, in milliseconds.
    pub readiness_timeout_ms: u64,
    /// Largest request body a service accepts, in bytes.
    pub max_body_bytes: usize,
    /// Origins allowed by CORS; `["*"]` allows any.
    pub cors_allowed_origins: Vec<String>,
    /// Most connections one listener holds open at once; further clients wait in the kernel's
    /// accept backlog until one closes.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, in seconds; a connection that is
    /// slower (or idle between keep-alive requests for longer) is closed.
    pub header_read_timeout_secs: u64,
    /// Networks (CIDR) of the proxies whose `X-Forwarded-For` is believed: the load balancer in
    /// front of the edge, and the edge in front of the services. Anyone else's is ignored and the
    /// peer address counts.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Networks (CIDR) allowed to read the edge's own `/metrics` (Prometheus scrapers).
    pub metrics_networks: Vec<ipnet::IpNet>,
    /// How long a `/health/ready` result is reused, in milliseconds, so that callers cannot make
    /// every request probe every store.
    pub readiness_cache_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    pub url: Secret,
    /// A streaming read replica of `url`, or empty for none: reads that tolerate a moment of
    /// replication lag go there, and fall back to `url` when it is down or does not hold the
    /// row yet.
    pub replica_url: Secret,
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    pub url: Secret,
    /// `url` is a node of a Redis Cluster (the others are discovered from it).
    pub cluster: bool,
    /// Prepended to every key and stream name, so several stacks (or tests) share one Redis.
    pub key_prefix: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClickHouseConfig {
    /// HTTP interface, e.g. `http://127.0.0.1:8123`.
    pub url: Url,
    pub user: String,
    pub password: Secret,
    pub database: String,
    /// A cluster of the servers' `remote_servers` to run on (replicated tables under a
    /// `Distributed` layer, DDL `ON CLUSTER`); empty for one server.
    pub cluster: String,
    pub request_timeout_secs: u64,
    /// Deletion mutations (project and dataset deletes) wait while this many mutations are
    /// unfinished in the database, so deletes cannot flood ClickHouse's mutation queue.
    pub max_pending_mutations: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageEngine {
    /// A folder on the local filesystem: the default when no bucket is configured.
    Local,
    /// Any S3-compatible service (AWS S3, GCS interoperability, MinIO, s3s-fs). Without keys
    /// it uses the AWS credential chain: IRSA's web identity token, ECS, then the instance's.
    S3,
    /// Google Cloud Storage's JSON API with ambient credentials (GKE Workload Identity, the
    /// metadata server, or `GOOGLE_APPLICATION_CREDENTIALS`): no HMAC keys.
    Gcs,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectStorageConfig {
    pub engine: StorageEngine,
    /// Folder used by the `local` engine.
    pub local_path: PathBuf,
    pub bucket: String,
    /// S3 endpoint; empty for AWS's own.
    pub endpoint: String,
    pub region: String,
    pub path_style: bool,
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    /// Prepended to every object key.
    pub prefix: String,
    /// Objects younger than this are never swept as orphans (a write may still be about to
    /// reference them), seconds.
    pub orphan_grace_secs: u64,
    /// How often the worker sweeps every workspace's objects for orphans, seconds; 0 never.
    pub sweep_interval_secs: u64,
}

/// Where the services reach each other inside the stack (upstream names in comments).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InternalEndpoints {
    /// `SMITH_BACKEND_ENDPOINT`
    pub backend: Url,
    /// `GO_ENDPOINT`, `AUTH_ENDPOINT`
    pub platform_backend: Url,
    /// `PLAYGROUND_ENDPOINT`
    pub playground: Url,
    /// The queue worker's health and metrics port.
    pub queue: Url,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicesConfig {
    pub frontend: ListenConfig,
    pub backend: ListenConfig,
    pub platform_backend: ListenConfig,
    pub playground: ListenConfig,
    pub queue: QueueWorkerConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenConfig {
    pub listen: SocketAddr,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueWorkerConfig {
    /// Health and metrics port of the worker.
    pub listen: SocketAddr,
    /// Tasks handled at once.
    pub concurrency: usize,
    /// Messages read from the stream per poll.
    pub batch_size: usize,
    /// How long a poll blocks waiting for new messages, in milliseconds.
    pub block_ms: u64,
    /// A message pending longer than this (its consumer presumably died) is reclaimed, in ms.
    pub reclaim_idle_ms: u64,
    /// Deliveries after which a failing message moves to the dead-letter stream.
    pub max_deliveries: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentConfig {
    /// Mounts the deployment control plane under `/api-host`; otherwise `/api-host/*` is 404.
    pub enabled: bool,
    /// Lifts the caps on a deployment's CPU, memory and replicas.
    #[serde(default)]
    pub uncapped_resources: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapConfig {
    pub organization_name: String,
    pub workspace_name: String,
    pub admin_email: String,
    pub admin_password: Secret,
    /// A static API key created for the initial workspace; empty means none.
    pub api_key: Secret,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// How people sign in to the UI.
    pub mode: LoginMode,
    /// Signs session tokens (HS256). Services that authenticate refuse to start without it.
    pub jwt_secret: Secret,
    /// HMAC key of API key and invitation token hashes; changing it invalidates every key.
    pub api_key_salt: Secret,
    /// Lifetime of a login session, in seconds.
    pub session_max_secs: u64,
    /// How long a resolved API key or session stays cached in Redis, in seconds. Revocation and
    /// role changes delete the cached entry at once, so this only bounds staleness after a crash.
    pub cache_secs: u64,
    /// Lifetime of an invitation, in seconds.
    pub invitation_max_secs: u64,
    /// The installation operator's credential (`Authorization: Bearer <token>`) for operator
    /// endpoints: dead letters, organisations' plan limits. Empty turns those endpoints off.
    pub operator_token: Secret,
    pub oidc: OidcConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoginMode {
    /// Email and password.
    Basic,
    /// OpenID Connect single sign-on (authorization code with PKCE); passwords are refused.
    Oidc,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The issuer; its `/.well-known/openid-configuration` is read at login.
    pub issuer_url: String,
    pub client_id: String,
    /// Empty for a public client (PKCE only).
    pub client_secret: Secret,
    pub scopes: Vec<String>,
    /// Where the issuer sends the browser back; empty means
    /// `<public.api_url>/oauth/custom-oidc/callback`.
    pub redirect_url: String,
    /// Create an account for a verified email that has none; otherwise only existing users
    /// (or invited ones) may sign in.
    pub provision_users: bool,
    /// The email domains provisioning accepts (`example.com`); other addresses need an
    /// invitation. Provisioning with no domain listed provisions nobody.
    pub provision_email_domains: Vec<String>,
    /// Link an identity to an existing account that signs in with a password when their verified
    /// emails match. Off by default: whoever controls an identity provider account with that
    /// email would otherwise take the account over.
    pub link_password_accounts: bool,
    /// The workspace role given to provisioned users in the first workspace.
    pub provision_workspace_role: String,
}

/// Request rate limits per organisation and endpoint class, and hourly plan limits on
/// ingested events and bytes. Organisations may override them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Turns every limit off (benchmarks).
    pub enabled: bool,
    /// `POST /runs`, `/runs/batch`, `PATCH /runs/…`, OTLP.
    pub ingest: RateLimit,
    /// `POST /runs/multipart`.
    pub multipart: RateLimit,
    /// `POST /runs/query`, `/runs/stats`, `/runs/group`, `GET /runs/{id}`.
    pub run_query: RateLimit,
    /// Every other authenticated request.
    pub default: RateLimit,
    /// Per client address: login attempts and requests with a missing or bad credential.
    pub unauthenticated: RateLimit,
    /// Per client address: requests that need no key (shared links, feedback tokens, signed
    /// downloads).
    pub public: RateLimit,
    /// Most feedback one presigned feedback token records.
    pub feedback_token_submissions: u32,
    /// Trace events (run creates and updates) per organisation per UTC hour; 0 = unlimited.
    pub events_per_hour: u64,
    /// Ingested bytes per organisation per UTC hour; 0 = unlimited.
    pub bytes_per_hour: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub requests: u64,
    pub window_secs: u64,
}

/// Trace ingestion: request caps, payload offload, and the stream between the API and the
/// worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// Largest ingestion request body as sent (compressed or not), bytes.
    pub max_body_bytes: usize,
    /// Largest body after decompression, bytes; a compression bomb stops here.
    pub max_decompressed_bytes: usize,
    /// Most run operations (creates plus updates) in one request.
    pub max_runs_per_request: usize,
    /// The most runs the SDKs put in one batch, as `GET /info` tells them; at most
    /// `max_runs_per_request`.
    pub sdk_batch_runs: usize,
    /// The largest batch the SDKs send, bytes, as `GET /info` tells them; at most the body caps
    /// of the edge (`http.max_body_bytes`) and of ingestion (`max_body_bytes`).
    pub sdk_batch_bytes: usize,
    /// Most runs one trace may hold; later creates in that trace are refused.
    pub max_runs_per_trace: u64,
    /// Inputs, outputs, `extra`, `events`, `serialized` and `error` at least this large, and
    /// every attachment, go to object storage before the request is acknowledged; bytes. The
    /// worker also moves a run's merged `extra` there once it reaches this size.
    pub offload_threshold_bytes: usize,
    /// Largest inputs, outputs or attachment of one run, bytes; more is refused (413).
    pub max_payload_bytes: usize,
    /// Largest `extra`, `events`, `serialized` or `error` of one run, bytes; more is refused
    /// (413).
    pub max_field_bytes: usize,
    /// Object writes (offloaded payloads, attachments) one request makes at once.
    pub object_write_concurrency: usize,
    /// Decompressed bytes that may be held by requests being decompressed at once, across the
    /// process; each compressed body reserves `max_decompressed_bytes` of it while it is
    /// decoded (off the async runtime), so at most this / that decode at once.
    pub max_decoding_bytes: usize,
    /// Shards of the ingestion stream: the worker handles each shard in order, one at a time.
    pub shards: u16,
    /// How long a worker's hold on a shard lasts without renewal, milliseconds. A worker that
    /// dies leaves its shards to others after this long.
    pub lease_ms: u64,
    /// Rows the worker gathers into one ClickHouse insert.
    pub batch_rows: usize,
    /// How long the worker waits for more entries before inserting a smaller batch, ms.
    pub linger_ms: u64,
    /// How often the worker reloads the model price table, seconds.
    pub price_refresh_secs: u64,
}

/// The prompt hub (`[hub]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    /// Whether prompt webhooks may target loopback, private and link-local addresses. Off by
    /// default: a webhook URL is chosen by a workspace, and must not reach the stack's own
    /// services or its network.
    pub allow_private_webhook_targets: bool,
    /// How long one webhook delivery may take, seconds.
    pub webhook_timeout_secs: u64,
    /// How often the worker looks for deliveries left pending with no task to send them (their
    /// task was never queued, or was lost), seconds; 0 turns the look off.
    pub webhook_redelivery_interval_secs: u64,
    /// A pending delivery untouched this long is queued again, seconds. Longer than a
    /// delivery's retries take, so one still being retried is left alone.
    pub webhook_stale_secs: u64,
}

/// Workspace secrets (`[secrets]`): provider API keys and the like, encrypted at rest.
///
/// The playground (`[playground]`): calls to LLM providers on behalf of a workspace.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaygroundConfig {
    /// Shared by backend and playground: the playground presents it when it asks backend for
    /// what one call needs (the provider key among it). Empty turns the playground off.
    pub internal_token: Secret,
    /// Networks (CIDR) a provider base URL may reach although they are loopback, private,
    /// link-local or metadata addresses (a self-hosted vLLM or Ollama, say).
    pub allowed_networks: Vec<ipnet::IpNet>,
    /// Connecting to a provider, seconds.
    pub connect_timeout_secs: u64,
    /// One whole provider call, streaming included, seconds.
    pub request_timeout_secs: u64,
    /// Longest silence while reading a provider's answer, seconds.
    pub idle_timeout_secs: u64,
    /// Largest provider answer read, bytes.
    pub max_response_bytes: u64,
    /// Provider calls one workspace has in flight at once (per playground replica).
    pub max_concurrent_per_workspace: usize,
    /// Retries of a provider's 429 or 5xx (and of connection failures) before reporting it.
    pub max_retries: u32,
    /// Delay before the first retry, milliseconds; doubled each time, capped at 8 s, and
    /// replaced by the provider's `retry-after` when it sends one.
    pub retry_base_ms: u64,
    /// Runs of a dataset one playground experiment sends to the provider at once.
    pub experiment_concurrency: usize,
}

/// Reading runs (`[runs]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunsConfig {
    /// How long a signed attachment download URL stays valid, seconds.
    pub attachment_url_ttl_secs: u64,
    /// Payloads rehydrated from object storage at once while answering one request.
    pub payload_fetch_concurrency: usize,
}
