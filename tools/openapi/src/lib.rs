//! The API document of every public route, as the edge serves it at `/api/openapi.json`:
//! merged from backend's and platform-backend's routes, each path as the public sees it
//! (behind the edge), with the error bodies and the ways to authenticate.

// Tests may expect and index: a panic there is a failing test.
#![cfg_attr(test, allow(clippy::expect_used, clippy::indexing_slicing))]

use ironsmith_api_types::error::{ErrorBody, ErrorDetail, ValidationIssue};
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths,
    ResponseBuilder, ServerBuilder,
};
use utoipa::{PartialSchema, ToSchema};

/// Which service answers a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Backend,
    PlatformBackend,
    Playground,
}

/// The public path of a service's route.
pub fn public_path(service: Service, path: &str) -> String {
    match service {
        // The deployment control plane keeps its own prefix.
        Service::Backend if path.starts_with("/api-host/") => path.to_owned(),
        // Backend's v2 reads (runs, traces, threads, public links) live under `/api/v2`.
        Service::Backend if path.starts_with("/v2/") => format!("/api{path}"),
        Service::Backend => format!("/api/v1{path}"),
        Service::PlatformBackend if path.starts_with("/v1/") || path.starts_with("/v2/") => {
            format!("/api{path}")
        }
        Service::PlatformBackend | Service::Playground => format!("/api/v1{path}"),
    }
}

/// Each public path with the service that answers it and its path there.
pub fn routes() -> Vec<(String, Service, String)> {
    let mut all = Vec::new();
    for (service, document) in [
        (Service::Backend, ironsmith_backend::openapi()),
        (
            Service::PlatformBackend,
            ironsmith_platform_backend::openapi(),
        ),
        (Service::Playground, ironsmith_playground::openapi()),
    ] {
        for path in document.paths.paths.keys() {
            all.push((public_path(service, path), service, path.clone()));
        }
    }
    all
}

/// The whole document.
pub fn document() -> OpenApi {
    let mut paths = Paths::new();
    let mut components = ComponentsBuilder::new().build();
    for (service, part) in [
        (Service::Backend, ironsmith_backend::openapi()),
        (
            Service::PlatformBackend,
            ironsmith_platform_backend::openapi(),
        ),
        (Service::Playground, ironsmith_playground::openapi()),
    ] {
        for (path, item) in part.paths.paths {
            paths.paths.insert(public_path(service, &path), item);
        }
        if let Some(part) = part.components {
            components.schemas.extend(part.schemas);
        }
    }
    add_schema::<ErrorBody>(&mut components);
    add_schema::<ErrorDetail>(&mut components);
    add_schema::<ValidationIssue>(&mut components);
    add_security_schemes(&mut components);
    add_error_responses(&mut components);
    for item in paths.paths.values_mut() {
        for operation in operations(item) {
            add_error_answers(operation);
        }
    }
    let mut document = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Ironsmith")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The LangSmith-compatible API of an Ironsmith installation: tracing, \
                     projects, datasets, experiments, feedback and the platform's \
                     organisations, workspaces and keys.",
                ))
                .build(),
        )
        .servers(Some(vec![ServerBuilder::new().url("/").build()]))
        .paths(paths)
        .components(Some(components))
        .build();
    document.security = Some(vec![
        utoipa::openapi::security::SecurityRequirement::new("api_key", Vec::<String>::new()),
        utoipa::openapi::security::SecurityRequirement::new("bearer", Vec::<String>::new()),
    ]);
    document
}

/// Rewrites every `{"type": [T, "null"], "format": F, …}` as
/// `{"oneOf": [{"type": T, "format": F, …}, {"type": "null"}]}`. Both say the same; request
/// generators (Schemathesis among them) ignore a format on a type list and would send `""` for
/// an optional UUID, while they honour it on a single type.
fn split_nullable_formats(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            // `"default": null` on a nullable property says nothing more, but makes TypeScript
            // generators treat the property as always present in request bodies.
            let null_variant = |key: &str| {
                map.get(key)
                    .and_then(serde_json::Value::as_array)
                    .is_some_and(|variants| {
                        variants
                            .iter()
                            .any(|v| v.get("type").is_some_and(|t| t == "null"))
                    })
            };
            let nullable = map.get("type").is_some_and(|kind| {
                kind.as_array()
                    .is_some_and(|kinds| kinds.iter().any(|k| k == "null"))
            }) || null_variant("oneOf")
                || null_variant("anyOf");
            if nullable && map.get("default").is_some_and(serde_json::Value::is_null) {
                map.remove("default");
            }
            let nullable_with_format = map.contains_key("format")
                && map.get("type").is_some_and(|kind| {
                    kind.as_array()
                        .is_some_and(|kinds| kinds.len() == 2 && kinds.iter().any(|k| k == "null"))
                });
            if nullable_with_format {
                let kind = map
                    .get("type")
                    .and_then(serde_json::Value::as_array)
                    .and_then(|kinds| kinds.iter().find(|k| *k != "null"))
                    .cloned()
                    .unwrap_or_default();
                let mut inner = serde_json::Map::new();
                inner.insert("type".into(), kind);
                for key in [
                    "format",
                    "minLength",
                    "maxLength",
                    "pattern",
                    "minimum",
                    "maximum",
                ] {
                    if let Some(found) = map.remove(key) {
                        inner.insert(key.into(), found);
                    }
                }
                map.remove("type");
                map.insert("oneOf".into(), serde_json::json!([inner, {"type": "null"}]));
            }
            map.values_mut().for_each(split_nullable_formats);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(split_nullable_formats),
        _ => {}
    }
}

/// The document as the edge serves it and the repository holds it: pretty JSON, one final
/// newline.
pub fn render() -> anyhow::Result<String> {
    let mut value = serde_json::to_value(document())?;
    split_nullable_formats(&mut value);
    let mut text = serde_json::to_string_pretty(&value)?;
    text.push('\n');
    Ok(text)
}

fn add_schema<T: ToSchema>(components: &mut utoipa::openapi::Components) {
    components
        .schemas
        .insert(T::name().into_owned(), <T as PartialSchema>::schema());
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.options.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// The error answers every operation may give, each in the shared shape.
const ERROR_ANSWERS: [(&str, &str, &str); 9] = [
    ("400", "BadRequest", "The request is malformed"),
    ("401", "Unauthorized", "No valid credentials"),
    ("403", "Forbidden", "The credentials do not allow this"),
    (
        "404",
        "NotFound",
        "No such resource in the caller's workspace",
    ),
    ("409", "Conflict", "Conflicts with an existing resource"),
    (
        "413",
        "PayloadTooLarge",
        "A body, field or count is over its cap",
    ),
    ("422", "Unprocessable", "The request fails validation"),
    (
        "429",
        "TooManyRequests",
        "Over a rate limit; `Retry-After` says when to retry",
    ),
    ("503", "Unavailable", "A store is unavailable; retry"),
];

fn add_error_responses(components: &mut utoipa::openapi::Components) {
    let body = ContentBuilder::new()
        .schema(Some(utoipa::openapi::Ref::from_schema_name(
            ErrorBody::name(),
        )))
        .build();
    for (_, name, description) in ERROR_ANSWERS {
        components.responses.insert(
            name.to_owned(),
            ResponseBuilder::new()
                .description(description)
                .content("application/json", body.clone())
                .build()
                .into(),
        );
    }
}

/// Every operation may answer an error in the shared shape.
fn add_error_answers(operation: &mut Operation) {
    for (status, name, _) in ERROR_ANSWERS {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| {
                utoipa::openapi::Ref::new(format!("#/components/responses/{name}")).into()
            });
    }
}

fn add_security_schemes(components: &mut utoipa::openapi::Components) {
    components.add_security_scheme(
        "api_key",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "x-api-key",
            "An API key (`lsv2_pt_…` or `lsv2_sk_…`), as the SDKs send `LANGSMITH_API_KEY`",
        ))),
    );
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("A login session's token"))
                .build(),
        ),
    );
}
