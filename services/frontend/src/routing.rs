//! The edge routing table: which service answers a public path, and the
//! path it sees. Exact matches win, then the longest prefix. The Kubernetes ingress uses the
//! same table.

use http::Method;

/// A service behind the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    Backend,
    PlatformBackend,
    Playground,
}

impl Upstream {
    pub fn name(self) -> &'static str {
        match self {
            Upstream::Backend => "backend",
            Upstream::PlatformBackend => "platform-backend",
            Upstream::Playground => "playground",
        }
    }
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// The frontend's own `GET /health`.
    Health,
    /// The API document, `GET /api/openapi.json`.
    OpenApi,
    /// The web UI.
    Ui,
    /// Forwarded to `upstream` with the rewritten `path` (query string kept as is).
    Proxy { upstream: Upstream, path: String },
    /// A path that exists on no service (e.g. `/api-host/*` with deployments off).
    NotFound,
}

#[derive(Debug, Clone, Copy)]
enum Rewrite {
    Unchanged,
    /// Replace the matched pattern's leading `from` with `to`.
    Replace(&'static str, &'static str),
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Health,
    OpenApi,
    Proxy(Upstream, Rewrite),
    /// `/api/*` (legacy, unversioned): becomes `/api/v1/*` and is routed again.
    Legacy,
    /// `/api-host/*`: backend, unchanged, when the deployment feature is on.
    ControlPlane,
    /// The control plane's deployments and listeners on the main API host, where the newest
    /// clients call them: backend under `/api-host/v2/`, when the deployment feature is on.
    ControlPlaneAlias(&'static str),
    /// `/oauth-callback`: POST goes to the OIDC callback, anything else is the UI.
    OauthCallback,
}

use Action::*;
use Rewrite::*;
use Upstream::*;

const STRIP_V1: Rewrite = Replace("/api/v1", "");
const STRIP_API: Rewrite = Replace("/api", "");

/// `(path, action)` answered only on an exact match.
const EXACT: &[(&str, Action)] = &[
    ("/health", Health),
    ("/oauth-callback", OauthCallback),
    ("/api/openapi.json", OpenApi),
    ("/api/v1/runs", Proxy(PlatformBackend, STRIP_V1)),
    ("/api/v1/runs/batch", Proxy(PlatformBackend, STRIP_V1)),
    ("/api/v1/runs/multipart", Proxy(PlatformBackend, STRIP_V1)),
    ("/api/runs", Proxy(PlatformBackend, STRIP_API)),
    ("/api/runs/batch", Proxy(PlatformBackend, STRIP_API)),
    ("/api/runs/multipart", Proxy(PlatformBackend, STRIP_API)),
    ("/api/v1/info", Proxy(PlatformBackend, STRIP_V1)),
    // Current Py passes `<API URL>/otel` to its exporter verbatim.
    ("/api/v1/otel", Proxy(PlatformBackend, STRIP_V1)),
    ("/api/v1/metadata/submit", Proxy(PlatformBackend, STRIP_V1)),
    ("/.well-known/jwks.json", Proxy(PlatformBackend, Unchanged)),
    ("/api/v1", Proxy(Backend, Unchanged)),
];

/// `(prefix, action)`: the longest matching prefix wins.
const PREFIX: &[(&str, Action)] = &[
    ("/api/.well-known/", Proxy(PlatformBackend, Unchanged)),
    ("/api/mcp", Proxy(PlatformBackend, Unchanged)),
    (
        "/api/oauth/",
        Proxy(PlatformBackend, Replace("/api/oauth/", "/oauth/")),
    ),
    (
        "/api/v1/oauth/",
        Proxy(PlatformBackend, Replace("/api/v1/oauth/", "/oauth/")),
    ),
    (
        "/api/v1/playground/experiment",
        Proxy(
            PlatformBackend,
            Replace("/api/v1/playground/", "/playground/"),
        ),
    ),
    (
        "/api/v1/playground/",
        Proxy(Playground, Replace("/api/v1/playground/", "/playground/")),
    ),
    (
        "/api/v1/platform/",
        Proxy(
            PlatformBackend,
            Replace("/api/v1/platform/", "/v1/platform/"),
        ),
    ),
    (
        "/api/v2/",
        Proxy(PlatformBackend, Replace("/api/v2/", "/v2/")),
    ),
    ("/v2/", Proxy(PlatformBackend, Unchanged)),
    // Ours: the v2 run, trace, thread, public-link and dataset reads are answered by backend, beside the v1 read path they reshape
    // (the upstream table sends every `/api/v2/*` path to platform-backend).
    ("/api/v2/runs", Proxy(Backend, Replace("/api/v2/", "/v2/"))),
    ("/v2/runs", Proxy(Backend, Unchanged)),
    (
        "/api/v2/traces",
        Proxy(Backend, Replace("/api/v2/", "/v2/")),
    ),
    ("/v2/traces", Proxy(Backend, Unchanged)),
    (
        "/api/v2/threads",
        Proxy(Backend, Replace("/api/v2/", "/v2/")),
    ),
    ("/v2/threads", Proxy(Backend, Unchanged)),
    (
        "/api/v2/public",
        Proxy(Backend, Replace("/api/v2/", "/v2/")),
    ),
    ("/v2/public", Proxy(Backend, Unchanged)),
    (
        "/api/v2/datasets",
        Proxy(Backend, Replace("/api/v2/", "/v2/")),
    ),
    ("/v2/datasets", Proxy(Backend, Unchanged)),
    (
        "/api/v1/otel/",
        Proxy(PlatformBackend, Replace("/api/v1/otel/", "/otel/")),
    ),
    ("/api/v1/me", Proxy(PlatformBackend, STRIP_V1)),
    // Ours: organisation management lives with authentication in platform-backend (the
    // upstream table sends these to backend under `/api/v1/*`; the public paths are unchanged).
    ("/api/v1/orgs", Proxy(PlatformBackend, STRIP_V1)),
    ("/api/v1/workspaces", Proxy(PlatformBackend, STRIP_V1)),
    // A workspace's secrets are kept and decrypted by backend, which hands the playground the
    // provider key a call needs.
    (
        "/api/v1/workspaces/current/secrets",
        Proxy(Backend, Unchanged),
    ),
    ("/api/v1/tenants", Proxy(PlatformBackend, STRIP_V1)),
    ("/api/v1/api-key", Proxy(PlatformBackend, STRIP_V1)),
    ("/api/v1/auth", Proxy(PlatformBackend, STRIP_V1)),
    ("/api/public", Proxy(PlatformBackend, STRIP_API)),
    ("/scim/", Proxy(PlatformBackend, Unchanged)),
    ("/api/v1/commits", Proxy(PlatformBackend, STRIP_V1)),
    ("/api/v1/traces", Proxy(PlatformBackend, STRIP_V1)),
    (
        "/api/v1/annotation-queues/pairwise",
        Proxy(PlatformBackend, STRIP_V1),
    ),
    ("/api/v1/agent-builder/", Proxy(PlatformBackend, STRIP_V1)),
    ("/api/v1/fleet/", Proxy(PlatformBackend, STRIP_V1)),
    ("/api/v1/", Proxy(Backend, Unchanged)),
    ("/api/docs", Proxy(Backend, Unchanged)),
    ("/api/redoc", Proxy(Backend, Unchanged)),
    ("/api/", Legacy),
    ("/api-host/", ControlPlane),
    ("/api/v2/deployments", ControlPlaneAlias("/api/v2/")),
    ("/api/v2/listeners", ControlPlaneAlias("/api/v2/")),
    ("/v2/deployments", ControlPlaneAlias("/v2/")),
    ("/v2/listeners", ControlPlaneAlias("/v2/")),
];

/// Routes one request.
pub fn route(method: &Method, path: &str, deployments_enabled: bool) -> Destination {
    match route_inner(method, path, deployments_enabled, true) {
        Destination::Proxy { path, .. } if is_internal(&path) => Destination::NotFound,
        other => other,
    }
}

/// The services' operational paths: metrics, health, readiness and queue depth. They are for
/// probes and scrapers inside the stack, which reach each service directly; from the public
/// they would leak internals and let anyone make every service probe every store.
fn is_internal(upstream_path: &str) -> bool {
    let path = ironsmith_http::normalize::canonical_path(upstream_path);
    let under = |root: &str| {
        path.strip_prefix(root)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    under("/metrics")
        || under("/health")
        || under("/ok")
        || under("/dead-letters")
        || under("/internal")
}

/// Backend's routes directly under `/api/v1/runs/`.
const BACKEND_RUN_ROUTES: [&str; 5] = ["query", "stats", "group", "timeseries", "stream"];

fn route_inner(method: &Method, path: &str, deployments: bool, allow_legacy: bool) -> Destination {
    // `PATCH /api/v1/runs/{id}` updates a run: ingestion, so platform-backend, which also
    // answers an id that is not a UUID (422). Every other method on `/api/v1/runs/{id}` reads
    // and stays with backend, as do backend's own `/api/v1/runs/query`, `/stats` and `/group`
    // (where PATCH is its 405).
    if method == Method::PATCH
        && let Some(id) = path.strip_prefix("/api/v1/runs/")
        && let id = id.strip_suffix('/').unwrap_or(id)
        && !id.is_empty()
        && !id.contains('/')
        && !BACKEND_RUN_ROUTES.contains(&id)
    {
        return Destination::Proxy {
            upstream: PlatformBackend,
            path: path["/api/v1".len()..].to_owned(),
        };
    }
    // One trailing `/` is insignificant, for exact routes too.
    let exact = if path.len() > 1 {
        path.strip_suffix('/').unwrap_or(path)
    } else {
        path
    };
    let matched = EXACT
        .iter()
        .find(|(pattern, _)| *pattern == exact)
        .or_else(|| {
            PREFIX
                .iter()
                .filter(|(pattern, _)| prefix_matches(pattern, path))
                .max_by_key(|(pattern, _)| pattern.len())
        });
    let Some((pattern, action)) = matched else {
        return Destination::Ui;
    };
    match *action {
        Health => Destination::Health,
        OpenApi => Destination::OpenApi,
        Proxy(upstream, rewrite) => Destination::Proxy {
            upstream,
            path: rewritten(path, pattern, rewrite),
        },
        Legacy if allow_legacy => {
            let versioned = format!("/api/v1/{}", &path["/api/".len()..]);
            route_inner(method, &versioned, deployments, false)
        }
        Legacy => Destination::NotFound,
        ControlPlane if deployments => Destination::Proxy {
            upstream: Backend,
            path: path.to_owned(),
        },
        ControlPlane => Destination::NotFound,
        ControlPlaneAlias(from) if deployments => Destination::Proxy {
            upstream: Backend,
            path: rewritten(path, pattern, Replace(from, "/api-host/v2/")),
        },
        ControlPlaneAlias(_) => Destination::NotFound,
        OauthCallback if method == Method::POST => Destination::Proxy {
            upstream: PlatformBackend,
            path: "/oauth/custom-oidc/callback".to_owned(),
        },
        OauthCallback => Destination::Ui,
    }
}

/// A prefix ending in `/` matches any path under it; one that does not (`/api/v1/me`) matches
/// only whole segments, so `/api/v1/me/x` goes to platform-backend but `/api/v1/metrics` does not.
fn prefix_matches(pattern: &str, path: &str) -> bool {
    match path.strip_prefix(pattern) {
        Some(rest) => pattern.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

fn rewritten(path: &str, pattern: &str, rewrite: Rewrite) -> String {
    match rewrite {
        Unchanged => path.to_owned(),
        Replace(from, to) => {
            debug_assert!(pattern.starts_with(from));
            let rest = &path[from.len()..];
            let joined = format!("{to}{rest}");
            if joined.is_empty() {
                "/".to_owned()
            } else {
                joined
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(upstream: Upstream, path: &str) -> Destination {
        Destination::Proxy {
            upstream,
            path: path.to_owned(),
        }
    }

    fn get(path: &str) -> Destination {
        route(&Method::GET, path, false)
    }

    #[test]
    fn ingestion_goes_to_platform_backend_under_both_prefixes() {
        for (public, private) in [
            ("/api/v1/runs", "/runs"),
            ("/api/v1/runs/batch", "/runs/batch"),
            ("/api/v1/runs/multipart", "/runs/multipart"),
            ("/api/runs/multipart", "/runs/multipart"),
            ("/api/v1/otel/v1/traces", "/otel/v1/traces"),
        ] {
            assert_eq!(
                route(&Method::POST, public, false),
                proxy(PlatformBackend, private),
                "{public}"
            );
        }
    }

    #[test]
    fn everything_else_under_api_v1_goes_to_backend_unchanged() {
        assert_eq!(get("/api/v1/sessions"), proxy(Backend, "/api/v1/sessions"));
        assert_eq!(
            get("/api/v1/runs/query"),
            proxy(Backend, "/api/v1/runs/query")
        );
        assert_eq!(
            get("/api/v1/runs/0f0e"),
            proxy(Backend, "/api/v1/runs/0f0e")
        );
        assert_eq!(get("/api/docs"), proxy(Backend, "/api/docs"));
    }

    #[test]
    fn platform_routes_and_their_rewrites() {
        assert_eq!(get("/api/v1/info"), proxy(PlatformBackend, "/info"));
        assert_eq!(
            route(&Method::POST, "/api/v1/otel", false),
            proxy(PlatformBackend, "/otel")
        );
        let run = "/api/v1/runs/0193a7c4-5b1e-7c20-9d8f-2b6a1e0c4d11";
        assert_eq!(
            route(&Method::PATCH, run, false),
            proxy(PlatformBackend, &run["/api/v1".len()..])
        );
        assert_eq!(
            route(&Method::PATCH, &run.replace("/api/v1/", "/api/"), false),
            proxy(PlatformBackend, &run["/api/v1".len()..])
        );
        assert_eq!(get(run), proxy(Backend, run));
        // An id that is not a UUID still reaches the service that updates runs, which refuses
        // it with 422 rather than the 405 of a service that only reads them.
        assert_eq!(
            route(&Method::PATCH, "/api/v1/runs/not-a-uuid", false),
            proxy(PlatformBackend, "/runs/not-a-uuid")
        );
        assert_eq!(get("/api/v1/me"), proxy(PlatformBackend, "/me"));
        assert_eq!(
            get("/api/v1/orgs/current/members"),
            proxy(PlatformBackend, "/orgs/current/members")
        );
        assert_eq!(
            get("/api/workspaces"),
            proxy(PlatformBackend, "/workspaces")
        );
        assert_eq!(
            get("/api/v1/api-key/current"),
            proxy(PlatformBackend, "/api-key/current")
        );
        assert_eq!(get("/api/v1/settings"), proxy(Backend, "/api/v1/settings"));
        assert_eq!(
            get("/api/v1/workspacesx"),
            proxy(Backend, "/api/v1/workspacesx")
        );
        assert_eq!(
            get("/api/v1/auth/login"),
            proxy(PlatformBackend, "/auth/login")
        );
        assert_eq!(
            get("/api/v1/platform/datasets/x/examples"),
            proxy(PlatformBackend, "/v1/platform/datasets/x/examples")
        );
        assert_eq!(get("/api/v2/runs"), proxy(Backend, "/v2/runs"));
        assert_eq!(get("/v2/runs/query"), proxy(Backend, "/v2/runs/query"));
        assert_eq!(
            get("/api/v2/threads/query"),
            proxy(Backend, "/v2/threads/query")
        );
        assert_eq!(
            get("/api/v2/traces/t/runs"),
            proxy(Backend, "/v2/traces/t/runs")
        );
        assert_eq!(
            get("/api/v2/public/t/runs/query"),
            proxy(Backend, "/v2/public/t/runs/query")
        );
        assert_eq!(
            get("/api/v2/sandboxes"),
            proxy(PlatformBackend, "/v2/sandboxes")
        );
        assert_eq!(
            get("/api/public/abc/run"),
            proxy(PlatformBackend, "/public/abc/run")
        );
        assert_eq!(
            get("/api/v1/oauth/custom-oidc/callback"),
            proxy(PlatformBackend, "/oauth/custom-oidc/callback")
        );
        assert_eq!(
            get("/api/oauth/token"),
            proxy(PlatformBackend, "/oauth/token")
        );
        assert_eq!(
            get("/.well-known/jwks.json"),
            proxy(PlatformBackend, "/.well-known/jwks.json")
        );
        assert_eq!(
            get("/scim/v2/Users"),
            proxy(PlatformBackend, "/scim/v2/Users")
        );
        assert_eq!(
            get("/api/v1/commits/me/repo"),
            proxy(PlatformBackend, "/commits/me/repo")
        );
        assert_eq!(
            get("/api/v1/annotation-queues/pairwise/x"),
            proxy(PlatformBackend, "/annotation-queues/pairwise/x")
        );
        assert_eq!(
            get("/api/v1/annotation-queues/x"),
            proxy(Backend, "/api/v1/annotation-queues/x")
        );
    }

    #[test]
    fn workspace_secrets_go_to_backend() {
        assert_eq!(
            get("/api/v1/workspaces/current/secrets"),
            proxy(Backend, "/api/v1/workspaces/current/secrets")
        );
        assert_eq!(
            get("/api/workspaces/current/secrets"),
            proxy(Backend, "/api/v1/workspaces/current/secrets")
        );
    }

    #[test]
    fn the_playground_except_its_experiments() {
        assert_eq!(
            get("/api/v1/playground/invoke"),
            proxy(Playground, "/playground/invoke")
        );
        assert_eq!(
            get("/api/v1/playground/experiment/batch"),
            proxy(PlatformBackend, "/playground/experiment/batch")
        );
    }

    #[test]
    fn legacy_unversioned_paths_are_versioned_then_routed() {
        assert_eq!(get("/api/sessions"), proxy(Backend, "/api/v1/sessions"));
        assert_eq!(get("/api/info"), proxy(PlatformBackend, "/info"));
        assert_eq!(
            get("/api/platform/x"),
            proxy(PlatformBackend, "/v1/platform/x")
        );
    }

    #[test]
    fn prefixes_match_whole_segments() {
        assert_eq!(
            get("/api/v1/me/tenants"),
            proxy(PlatformBackend, "/me/tenants")
        );
        // Operational paths are never forwarded from the public.
        for path in [
            "/api/v1/metrics/queue/default",
            "/api/v1/metrics",
            "/api/metrics",
            "/api/v1/health/ready",
            "/api/v1/health",
            "/api/v1/ok",
            "/api/v1/ok/",
            "/api/v1/internal/playground/resolve",
            "/api/internal/playground/resolve",
        ] {
            assert_eq!(get(path), Destination::NotFound, "{path}");
        }
        assert_eq!(get("/api/v1/okay"), proxy(Backend, "/api/v1/okay"));
        assert_eq!(get("/api/v1/authors"), proxy(Backend, "/api/v1/authors"));
        assert_eq!(
            get("/api/v1/auth/login"),
            proxy(PlatformBackend, "/auth/login")
        );
    }

    #[test]
    fn exact_rules_are_exact() {
        // `/api/v1/runs` is ingestion only as an exact path; `/api/v1/runsx` is an ordinary route.
        assert_eq!(get("/api/v1/runsx"), proxy(Backend, "/api/v1/runsx"));
        assert_eq!(get("/health"), Destination::Health);
        assert_eq!(get("/health/ready"), Destination::Ui);
    }

    #[test]
    fn control_plane_only_when_enabled() {
        assert_eq!(get("/api-host/v2/deployments"), Destination::NotFound);
        assert_eq!(get("/api/v2/deployments"), Destination::NotFound);
        for (public, private) in [
            ("/api/v2/deployments", "/api-host/v2/deployments"),
            (
                "/api/v2/deployments/x/revisions",
                "/api-host/v2/deployments/x/revisions",
            ),
            ("/api/v2/listeners/y", "/api-host/v2/listeners/y"),
            ("/v2/deployments", "/api-host/v2/deployments"),
            ("/v2/listeners", "/api-host/v2/listeners"),
        ] {
            assert_eq!(
                route(&Method::GET, public, true),
                proxy(Backend, private),
                "{public}"
            );
        }
        assert_eq!(
            route(&Method::GET, "/api-host/v2/deployments", true),
            proxy(Backend, "/api-host/v2/deployments")
        );
    }

    #[test]
    fn oauth_callback_post_is_rewritten_get_is_the_ui() {
        assert_eq!(
            route(&Method::POST, "/oauth-callback", false),
            proxy(PlatformBackend, "/oauth/custom-oidc/callback")
        );
        assert_eq!(get("/oauth-callback"), Destination::Ui);
    }

    #[test]
    fn the_rest_is_the_ui() {
        assert_eq!(get("/"), Destination::Ui);
        assert_eq!(get("/projects"), Destination::Ui);
    }
}
