//! Fields kept in object storage: a stored `extra` read back to merge, and a merged `extra`
//! that reached the offload threshold written out.

use super::*;

impl IngestWorker {
    /// The whole `extra` of every operation of `batches` that carries it in object storage,
    /// by key, fetched with bounded concurrency.
    pub(super) async fn fetch_stored_extras(
        &self,
        batches: &[&IngestBatch],
    ) -> Result<HashMap<String, Box<RawValue>>, IngestError> {
        let mut keys: Vec<String> = batches
            .iter()
            .flat_map(|b| &b.runs)
            .filter_map(|op| op.extra_stored.as_ref().map(|s| s.key.clone()))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let mut fetched = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(8) {
            let texts =
                futures::future::try_join_all(chunk.iter().map(|key| self.fetch_text(key))).await?;
            for (key, text) in chunk.iter().zip(texts) {
                let raw = RawValue::from_string(text).map_err(|e| IngestError::StoredField {
                    key: key.clone(),
                    reason: e.to_string(),
                })?;
                fetched.insert(key.clone(), raw);
            }
        }
        Ok(fetched)
    }

    pub(super) async fn fetch_text(&self, key: &str) -> Result<String, IngestError> {
        let bytes = self.storage.get(key).await?;
        String::from_utf8(bytes.to_vec()).map_err(|e| IngestError::StoredField {
            key: key.to_owned(),
            reason: e.to_string(),
        })
    }

    /// Moves a merged `extra` that reached the offload threshold to object storage, keeping
    /// inline only what derived columns read (`finish` has already read the whole).
    pub(super) async fn offload_extra(&self, row: &mut RunRow) -> Result<(), IngestError> {
        if row.extra.len() < self.offload_threshold || !row.extra_s3_key.is_empty() {
            return Ok(());
        }
        let key = format!(
            "runs/{}/{}/extra-{}.json",
            row.tenant_id,
            row.id,
            Uuid::now_v7()
        );
        let whole = std::mem::take(&mut row.extra);
        row.extra = extra_projection(&whole);
        self.storage.put(&key, bytes::Bytes::from(whole)).await?;
        row.extra_s3_key = key;
        Ok(())
    }
}
