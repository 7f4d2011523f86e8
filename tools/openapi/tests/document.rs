//! The checked-in API document is the one the code describes, and every path in it reaches,
//! through the edge, the service that serves it.

#![allow(clippy::expect_used, clippy::indexing_slicing)]

use http::Method;
use ironsmith_frontend::routing::{Destination, Upstream, route};
use ironsmith_openapi::Service;

#[test]
fn the_checked_in_document_is_the_one_the_code_describes() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    let on_disk = std::fs::read_to_string(path).expect("docs/openapi.json");
    let generated = ironsmith_openapi::render().expect("render");
    assert!(
        on_disk == generated,
        "docs/openapi.json differs from the code: run `cargo run -p ironsmith-openapi` and \
         commit the result"
    );
    assert_eq!(ironsmith_frontend::OPENAPI_DOCUMENT, generated);
}

/// A path with each parameter given a concrete value, as a client would send it.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "0190a5a4-1f2e-7c3d-8e4f-5a6b7c8d9e0f"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn every_documented_path_reaches_the_service_that_serves_it() {
    let document = ironsmith_openapi::document();
    let routes = ironsmith_openapi::routes();
    assert!(routes.len() > 40, "only {} paths documented", routes.len());
    for (public, service, own) in routes {
        let item = &document.paths.paths[&public];
        let methods = [
            (Method::GET, item.get.is_some()),
            (Method::POST, item.post.is_some()),
            (Method::PUT, item.put.is_some()),
            (Method::PATCH, item.patch.is_some()),
            (Method::DELETE, item.delete.is_some()),
        ];
        for (method, documented) in methods {
            if !documented {
                continue;
            }
            let expected = match service {
                Service::Backend => Upstream::Backend,
                Service::PlatformBackend => Upstream::PlatformBackend,
                Service::Playground => Upstream::Playground,
            };
            match route(&method, &concrete(&public), true) {
                Destination::Proxy { upstream, path } => {
                    assert_eq!(upstream, expected, "{method} {public}");
                    assert_eq!(
                        ironsmith_http::normalize::canonical_path(&path),
                        ironsmith_http::normalize::canonical_path(&concrete(&own)),
                        "{method} {public}"
                    );
                }
                other => panic!("{method} {public} routes to {other:?}"),
            }
        }
    }
}

#[test]
fn every_operation_says_what_it_answers() {
    let document = ironsmith_openapi::document();
    let mut operation_ids = std::collections::BTreeMap::new();
    for (path, item) in &document.paths.paths {
        for (method, operation) in [
            ("get", &item.get),
            ("post", &item.post),
            ("put", &item.put),
            ("patch", &item.patch),
            ("delete", &item.delete),
        ] {
            let Some(operation) = operation else { continue };
            let success = operation
                .responses
                .responses
                .keys()
                .any(|status| status.starts_with('2') || status.starts_with('3'));
            // Or a feature the server does not offer, which says so with a 501.
            let not_offered = operation.responses.responses.contains_key("501");
            assert!(
                success || not_offered,
                "{method} {path} documents no success answer"
            );
            assert!(
                operation.tags.as_ref().is_some_and(|tags| !tags.is_empty()),
                "{method} {path} has no tag"
            );
            // Generated clients name their functions by operationId: each must be unique.
            let id = operation.operation_id.clone().unwrap_or_default();
            assert!(!id.is_empty(), "{method} {path} has no operationId");
            if let Some(other) = operation_ids.insert(id.clone(), format!("{method} {path}")) {
                panic!("{method} {path} and {other} share the operationId {id}");
            }
        }
    }
}

/// Every type the document describes is a component named by its Rust name, and components are
/// keyed by name alone: two `ToSchema` types of one name would silently share one schema, so one
/// of them would be documented with the other's fields.
#[test]
fn schema_names_are_unique() {
    fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("readable source folder") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                out.push(path);
            }
        }
    }
    let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let mut files = Vec::new();
    for top in ["services", "libs"] {
        rust_files(&root.join(top), &mut files);
    }
    let derive = regex::Regex::new(
        r"#\[derive\([^\]]*ToSchema[^\]]*\)\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?(?:struct|enum)\s+(\w+)",
    )
    .expect("a valid pattern");
    let mut seen = std::collections::BTreeMap::new();
    for file in files {
        let source = std::fs::read_to_string(&file).expect("readable source");
        for found in derive.captures_iter(&source) {
            let name = found[1].to_owned();
            if let Some(other) = seen.insert(name.clone(), file.clone()) {
                panic!(
                    "{} and {} both define a schema named {name}",
                    file.display(),
                    other.display()
                );
            }
        }
    }
    assert!(
        seen.len() > 30,
        "the scan found the schema types ({})",
        seen.len()
    );
}

/// A method a path does not document reaches the service that owns the path, so the client gets
/// that service's 405 (not another service's 404 or 422). The owner is the service of the most
/// specific documented path matching it: `/runs/query` (backend) over `/runs/{run_id}`.
#[test]
fn undocumented_methods_reach_the_paths_owner() {
    let routes = ironsmith_openapi::routes();
    let literal_matches = |template: &str, path: &str| -> Option<usize> {
        let (template, path): (Vec<_>, Vec<_>) =
            (template.split('/').collect(), path.split('/').collect());
        if template.len() != path.len() {
            return None;
        }
        let mut literals = 0;
        for (t, p) in template.iter().zip(&path) {
            if t.starts_with('{') {
                continue;
            }
            if t != p {
                return None;
            }
            literals += 1;
        }
        Some(literals)
    };
    for (public, _, _) in &routes {
        let path = concrete(public);
        let matching: Vec<_> = routes
            .iter()
            .filter_map(|(template, service, _)| {
                literal_matches(template, &path).map(|literals| (literals, *service))
            })
            .collect();
        let best = matching
            .iter()
            .map(|(literals, _)| *literals)
            .max()
            .unwrap_or_default();
        let owners: Vec<Upstream> = matching
            .iter()
            .filter(|(literals, _)| *literals == best)
            .map(|(_, service)| match service {
                Service::Backend => Upstream::Backend,
                Service::PlatformBackend => Upstream::PlatformBackend,
                Service::Playground => Upstream::Playground,
            })
            .collect();
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ] {
            match route(&method, &path, true) {
                Destination::Proxy { upstream, .. } => assert!(
                    owners.contains(&upstream),
                    "{method} {path} reaches {upstream:?}, not its owner {owners:?}"
                ),
                other => panic!("{method} {path} routes to {other:?}"),
            }
        }
    }
}
