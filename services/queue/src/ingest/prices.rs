//! The model price table the worker prices runs with, reloaded when prices change.

use super::*;

impl IngestWorker {
    /// Reloads the price table when prices were added or removed since the last load; the
    /// patterns are compiled on a blocking thread.
    pub(super) async fn refresh_prices(&self) {
        let fingerprint = match ironsmith_db::model_prices::fingerprint(&self.postgres).await {
            Ok(fingerprint) => fingerprint,
            Err(error) => {
                tracing::warn!(%error, "cannot check model prices; keeping the previous table");
                return;
            }
        };
        if self
            .prices_fingerprint
            .lock()
            .is_ok_and(|last| *last == Some(fingerprint))
        {
            return;
        }
        let rows = match ironsmith_db::model_prices::all(&self.postgres).await {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(%error, "cannot load model prices; keeping the previous table");
                return;
            }
        };
        let compiled = tokio::task::spawn_blocking(move || {
            let prices: Vec<Price> = rows
                .into_iter()
                .filter_map(|row| match pricing::compile_pattern(&row.match_pattern) {
                    Ok(pattern) => Some(Price {
                        id: row.id,
                        tenant_id: row.tenant_id,
                        provider: row.provider,
                        pattern,
                        prompt_per_million: row.prompt_cost_per_million,
                        completion_per_million: row.completion_cost_per_million,
                        priority: row.priority,
                        created_at_us: row.created_at.timestamp_micros(),
                    }),
                    Err(reason) => {
                        tracing::warn!(price = %row.id, %reason, "a model price's pattern cannot be used; skipped");
                        None
                    }
                })
                .collect();
            PriceTable::new(prices)
        })
        .await;
        match compiled {
            Ok(table) => {
                if let Ok(mut slot) = self.prices.write() {
                    *slot = Arc::new(table);
                }
                if let Ok(mut last) = self.prices_fingerprint.lock() {
                    *last = Some(fingerprint);
                }
            }
            Err(error) => {
                tracing::error!(%error, "compiling model prices failed; keeping the previous table")
            }
        }
    }

    pub(super) fn prices(&self) -> Arc<PriceTable> {
        self.prices.read().map(|p| p.clone()).unwrap_or_default()
    }
}
