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
        // Path parameters get a concrete value, as a client would send.
        let concrete = |path: &str| {
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
        };
        for (method, documented) in methods {
            if !documented {
                continue;
            }
            let expected = match service {
                Service::Backend => Upstream::Backend,
                Service::PlatformBackend => Upstream::PlatformBackend,
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
                .any(|status| status.starts_with('2'));
            assert!(success, "{method} {path} documents no success answer");
            assert!(
                operation.tags.as_ref().is_some_and(|tags| !tags.is_empty()),
                "{method} {path} has no tag"
            );
        }
    }
}
