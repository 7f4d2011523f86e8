//! Object storage for large payloads and attachments, behind `object_store`.
//!
//! With no bucket configured (`engine = "local"`) objects live in a folder on this machine; the
//! `s3` engine speaks to any S3-compatible service, the `gcs` engine to Google Cloud Storage with
//! ambient credentials. A configured prefix scopes every key, which
//! is also how tests isolate themselves inside one bucket.

// Tests may expect and index: a panic there is a failing test.
#![cfg_attr(test, allow(clippy::expect_used, clippy::indexing_slicing))]

use std::sync::Arc;

pub use object_store;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use ironsmith_config::{ObjectStorageConfig, StorageEngine};
use object_store::aws::AmazonS3Builder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("object storage: {0}")]
    Store(#[from] object_store::Error),
    #[error("cannot create the local object folder {path}")]
    LocalFolder {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid object key {0:?}")]
    Key(String),
}

impl StorageError {
    /// The store failed to answer (as opposed to a missing object or a bad key): retrying
    /// later can succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StorageError::Store(error) if !matches!(
            error,
            object_store::Error::NotFound { .. }
                | object_store::Error::InvalidPath { .. }
                | object_store::Error::NotImplemented { .. }
        ))
    }

    /// The object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            StorageError::Store(object_store::Error::NotFound { .. })
        )
    }
}

/// A cheap, cloneable handle to the configured store.
#[derive(Clone, Debug)]
pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
    engine: StorageEngine,
}

impl ObjectStorage {
    pub fn from_config(config: &ObjectStorageConfig) -> Result<Self, StorageError> {
        let store: Arc<dyn ObjectStore> = match config.engine {
            StorageEngine::Local => {
                std::fs::create_dir_all(&config.local_path).map_err(|source| {
                    StorageError::LocalFolder {
                        path: config.local_path.display().to_string(),
                        source,
                    }
                })?;
                Arc::new(LocalFileSystem::new_with_prefix(&config.local_path)?)
            }
            StorageEngine::S3 => {
                // From the environment first, so the AWS credential chain applies when no keys
                // are configured (IRSA sets AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE).
                let mut builder = AmazonS3Builder::from_env()
                    .with_bucket_name(&config.bucket)
                    .with_region(&config.region)
                    .with_virtual_hosted_style_request(!config.path_style);
                if !config.endpoint.is_empty() {
                    builder = builder
                        .with_endpoint(&config.endpoint)
                        .with_allow_http(config.endpoint.starts_with("http://"));
                }
                if !config.access_key_id.is_empty() {
                    builder = builder
                        .with_access_key_id(config.access_key_id.expose())
                        .with_secret_access_key(config.secret_access_key.expose());
                }
                Arc::new(builder.build()?)
            }
            StorageEngine::Gcs => Arc::new(
                GoogleCloudStorageBuilder::from_env()
                    .with_bucket_name(&config.bucket)
                    .build()?,
            ),
        };
        let store: Arc<dyn ObjectStore> = if config.prefix.is_empty() {
            store
        } else {
            Arc::new(PrefixStore::new(store, config.prefix.as_str()))
        };
        Ok(ObjectStorage {
            store,
            engine: config.engine,
        })
    }

    pub fn engine(&self) -> StorageEngine {
        self.engine
    }

    /// The underlying store, for streaming uploads and downloads.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StorageError> {
        self.store
            .put(&path(key)?, PutPayload::from_bytes(bytes))
            .await?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        Ok(self.store.get(&path(key)?).await?.bytes().await?)
    }

    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.store.delete(&path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every object under `prefix/<id>/…`, with its `<id>` (objects whose next segment is not
    /// an id are skipped), in one listing of `prefix`.
    pub async fn owned_objects(&self, prefix: &str) -> Result<Vec<OwnedObject>, StorageError> {
        let base = path(prefix)?;
        Ok(self
            .store
            .list(Some(&base))
            .try_filter_map(|meta| {
                let owner = meta
                    .location
                    .prefix_match(&base)
                    .and_then(|mut parts| parts.next())
                    .and_then(|part| uuid::Uuid::try_parse(part.as_ref()).ok());
                let object = owner.map(|owner| OwnedObject {
                    owner,
                    location: meta.location,
                    last_modified: meta.last_modified,
                });
                async move { Ok(object) }
            })
            .try_collect()
            .await?)
    }

    /// Deletes `objects`, a few at a time; an object already gone counts as deleted.
    pub async fn delete_objects(&self, objects: Vec<OwnedObject>) -> Result<usize, StorageError> {
        let count = objects.len();
        futures::stream::iter(objects.into_iter().map(|object| async move {
            match self.store.delete(&object.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(StorageError::from(e)),
            }
        }))
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await?;
        Ok(count)
    }

    /// Deletes every object under `prefix/<id>/` whose `<id>` is one of `owners` (runs of a
    /// deleted project, say). Returns how many objects were deleted.
    pub async fn delete_owned(
        &self,
        prefix: &str,
        owners: &std::collections::HashSet<uuid::Uuid>,
    ) -> Result<usize, StorageError> {
        if owners.is_empty() {
            return Ok(0);
        }
        let doomed = self
            .owned_objects(prefix)
            .await?
            .into_iter()
            .filter(|o| owners.contains(&o.owner))
            .collect();
        self.delete_objects(doomed).await
    }

    /// Readiness: the store answers a listing of (at most one page of) its root.
    pub async fn check(&self) -> Result<(), StorageError> {
        let mut listing = self.store.list(None);
        listing.try_next().await?;
        Ok(())
    }
}

/// An object stored under `<prefix>/<owner>/…`.
#[derive(Debug, Clone)]
pub struct OwnedObject {
    pub owner: uuid::Uuid,
    pub location: Path,
    pub last_modified: chrono::DateTime<chrono::Utc>,
}

fn path(key: &str) -> Result<Path, StorageError> {
    Path::parse(key).map_err(|_| StorageError::Key(key.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironsmith_config::Secret;

    fn local(dir: &std::path::Path, prefix: &str) -> ObjectStorageConfig {
        ObjectStorageConfig {
            engine: StorageEngine::Local,
            local_path: dir.to_path_buf(),
            bucket: String::new(),
            endpoint: String::new(),
            region: String::new(),
            path_style: true,
            access_key_id: Secret::new(""),
            secret_access_key: Secret::new(""),
            prefix: prefix.into(),
            orphan_grace_secs: 3600,
            sweep_interval_secs: 0,
        }
    }

    #[tokio::test]
    async fn local_folder_round_trip_under_a_prefix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = ObjectStorage::from_config(&local(dir.path(), "t1")).expect("store");
        storage.check().await.expect("ready");
        storage
            .put("runs/a/inputs.json", Bytes::from_static(b"{\"x\":1}"))
            .await
            .expect("put");
        assert_eq!(
            storage.get("runs/a/inputs.json").await.expect("get"),
            Bytes::from_static(b"{\"x\":1}")
        );
        assert!(dir.path().join("t1/runs/a/inputs.json").is_file());
        storage.delete("runs/a/inputs.json").await.expect("delete");
        storage
            .delete("runs/a/inputs.json")
            .await
            .expect("delete is idempotent");
        assert!(storage.get("runs/a/inputs.json").await.is_err());
    }

    #[test]
    fn keys_that_escape_are_refused() {
        assert!(path("../etc/passwd").is_err());
    }
}
