//! Loading the real files under `config/`.

use std::path::PathBuf;

use ironsmith_config::{CloudProvider, ConfigError, LoadOptions, Region, StorageEngine, load};
use serde_json::json;

fn dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../config"))
}

fn options(region: &str) -> LoadOptions {
    LoadOptions {
        config_dir: Some(dir()),
        region: Some(region.into()),
        ..LoadOptions::default()
    }
}

#[test]
fn every_region_file_models_a_whole_stack() {
    for (name, region, provider, cloud_region) in [
        ("us", Region::Us, CloudProvider::Gcp, "us-central1"),
        ("eu", Region::Eu, CloudProvider::Gcp, "europe-west4"),
        (
            "apac",
            Region::Apac,
            CloudProvider::Gcp,
            "australia-southeast1",
        ),
        ("aws", Region::Aws, CloudProvider::Aws, "us-east-2"),
    ] {
        let config = load(&options(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(config.stack.region, region);
        assert_eq!(config.cloud.provider, provider);
        assert_eq!(config.cloud.region, cloud_region);
        assert_eq!(
            config.billing.region,
            Region::Us,
            "billing lives in the US only"
        );
        // GCS with workload identity on GCP, S3 with IRSA on AWS: no keys either way.
        let engine = match provider {
            CloudProvider::Aws => StorageEngine::S3,
            _ => StorageEngine::Gcs,
        };
        assert_eq!(config.object_storage.engine, engine, "{name}");
        assert!(config.object_storage.access_key_id.expose().is_empty());
        assert!(
            config.public.api_url.as_str().ends_with("/api/v1"),
            "{name}"
        );
        assert!(
            config.postgres.url.expose().contains(cloud_region),
            "{name}: in-region Postgres"
        );
    }
}

#[test]
fn the_local_profile_is_loopback_with_a_local_folder() {
    let config = load(&LoadOptions {
        profile: Some("local".into()),
        ..options("us")
    })
    .expect("local profile");
    assert_eq!(config.stack.environment, "local");
    assert_eq!(config.object_storage.engine, StorageEngine::Local);
    assert!(config.services.frontend.listen.ip().is_loopback());
    assert_eq!(config.services.backend.listen.port(), 1984);
    assert_eq!(config.services.platform_backend.listen.port(), 1986);
    assert_eq!(config.services.playground.listen.port(), 1988);
    assert_eq!(config.services.queue.listen.port(), 1989);
}

#[test]
fn overrides_win() {
    let config = load(&LoadOptions {
        overrides: Some(
            json!({"clickhouse": {"database": "other"}, "deployment": {"enabled": true}}),
        ),
        ..options("eu")
    })
    .expect("loads");
    assert_eq!(config.clickhouse.database, "other");
    assert!(config.deployment.enabled);
}

fn error(overrides: serde_json::Value) -> String {
    match load(&LoadOptions {
        overrides: Some(overrides),
        ..options("us")
    }) {
        Ok(_) => panic!("must fail"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn errors_name_the_bad_key() {
    let e = error(json!({"services": {"backend": {"listen": "not an address"}}}));
    assert!(e.contains("services.backend.listen"), "{e}");

    let e = error(json!({"postgres": {"max_connections": "many"}}));
    assert!(e.contains("postgres.max_connections"), "{e}");

    let e = error(json!({"redis": {"url": "http://wrong-scheme"}}));
    assert!(e.contains("`redis.url`"), "{e}");

    let e = error(json!({"clickhouse": {"database": "drop table; --"}}));
    assert!(e.contains("`clickhouse.database`"), "{e}");

    let e = error(json!({"object_storage": {"engine": "s3", "bucket": ""}}));
    assert!(e.contains("`object_storage.bucket`"), "{e}");

    let e = error(json!({"billing": {"region": "eu"}}));
    assert!(e.contains("`billing.region`"), "{e}");
}

#[test]
fn the_sdks_are_never_told_to_send_what_ingestion_refuses() {
    let e = error(json!({"ingest": {"sdk_batch_runs": 2000, "max_runs_per_request": 1000}}));
    assert!(e.contains("`ingest.sdk_batch_runs`"), "{e}");
    let e = error(
        json!({"ingest": {"sdk_batch_bytes": 30_000_000}, "http": {"max_body_bytes": 26_214_400}}),
    );
    assert!(e.contains("`ingest.sdk_batch_bytes`"), "{e}");
}

#[test]
fn unknown_keys_are_refused_by_name() {
    let e = error(json!({"postgres": {"pool_size": 3}}));
    assert!(e.contains("pool_size"), "{e}");
}

#[test]
fn unknown_regions_and_profiles_are_refused() {
    assert!(matches!(
        load(&options("mars")),
        Err(ConfigError::UnknownRegion(_))
    ));
    let profile = load(&LoadOptions {
        profile: Some("../../etc/passwd".into()),
        ..options("us")
    });
    assert!(matches!(profile, Err(ConfigError::UnknownProfile { .. })));
}

#[test]
fn secrets_never_print() {
    let config = load(&LoadOptions {
        overrides: Some(json!({"clickhouse": {"password": "hunter2"}, "postgres": {"url": "postgres://u:pw@h/db"}})),
        ..options("us")
    })
    .expect("loads");
    let debug = format!("{config:?}");
    let json = serde_json::to_string(&config).expect("serialises");
    for text in [&debug, &json] {
        assert!(!text.contains("hunter2"));
        assert!(!text.contains("pw@"));
    }
    assert_eq!(config.clickhouse.password.expose(), "hunter2");
}
