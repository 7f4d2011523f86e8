//! Folding a batch's operations into their runs' latest rows, and inserting the new versions
//! (and feedback) into ClickHouse.

use super::*;

impl IngestWorker {
    /// Folds `batches` into their runs' latest rows and inserts the new versions. Returns how
    /// many runs and feedback records were written.
    pub(super) async fn store(
        &self,
        batches: &[&IngestBatch],
    ) -> Result<(usize, usize), IngestError> {
        let prices = self.prices();
        let mut per_tenant: HashMap<Uuid, Vec<(&RunOp, i64)>> = HashMap::new();
        let mut feedback = Vec::new();
        for batch in batches {
            for op in &batch.runs {
                per_tenant
                    .entry(batch.tenant_id)
                    .or_default()
                    .push((op, batch.received_us));
            }
            for op in &batch.feedback {
                feedback.push(op.to_row(batch.tenant_id));
            }
        }
        let stored_extras = self.fetch_stored_extras(batches).await?;
        let now = chrono::Utc::now().timestamp_micros().max(0) as u64;
        let mut all_rows = Vec::new();
        let mut relocated = HashSet::new();
        let mut touched: Vec<(Uuid, Uuid)> = Vec::new();
        let mut superseded = Vec::new();
        for (tenant_id, ops) in per_tenant {
            let mut ids: Vec<Uuid> = ops.iter().map(|(op, _)| op.id).collect();
            ids.sort_unstable();
            ids.dedup();
            let partial: HashSet<Uuid> = ops
                .iter()
                .filter(|(op, _)| !is_full_create(op))
                .map(|(op, _)| op.id)
                .collect();
            touched.extend(partial.iter().map(|id| (tenant_id, *id)));
            let wanted = self.needing_lookup(tenant_id, &ids, &partial).await?;
            let locations = runs::locate(&self.clickhouse, tenant_id, &wanted).await?;
            let mut prior: HashMap<Uuid, RunRow> =
                runs::fetch_latest(&self.clickhouse, tenant_id, &locations)
                    .await?
                    .into_iter()
                    .map(|row| (row.id, row))
                    .collect();
            let located: HashMap<Uuid, RunLocation> =
                locations.into_iter().map(|l| (l.id, l)).collect();
            // Every stored version read here is about to be replaced by a newer one.
            superseded.extend(prior.values().map(runs::Superseded::of));

            let mut rows: HashMap<Uuid, RunRow> = HashMap::with_capacity(ids.len());
            let mut order = Vec::with_capacity(ids.len());
            for (op, received) in &ops {
                let row = rows.entry(op.id).or_insert_with(|| {
                    order.push(op.id);
                    prior.remove(&op.id).unwrap_or_else(|| {
                        let mut row = new_row(tenant_id, op.id, *received);
                        // Stored before without its row (a half-finished earlier insert):
                        // keep its partition.
                        if let Some(location) = located.get(&op.id) {
                            row.first_received_us = location.first_received_us;
                        }
                        row
                    })
                });
                if needs_whole_extra(row, op) {
                    row.extra = self.fetch_text(&row.extra_s3_key).await?;
                    row.extra_s3_key.clear();
                }
                match with_stored_extra(op, &stored_extras) {
                    Some(resolved) => apply(row, &resolved, *received),
                    None => apply(row, op, *received),
                }
            }
            self.complete_positions(tenant_id, &mut rows).await?;
            for id in order {
                let Some(mut row) = rows.remove(&id) else {
                    continue;
                };
                if row.trace_id.is_nil() {
                    row.trace_id = row.parent_run_id.unwrap_or(row.id);
                }
                let floor = located.get(&id).map_or(0, |l| l.version + 1);
                finish(&mut row, &prices, now.max(floor));
                self.offload_extra(&mut row).await?;
                let moved = located.get(&id).is_none_or(|l| {
                    l.session_id != row.session_id
                        || l.start_time_us != row.start_time_us
                        || l.dotted_order != row.dotted_order
                        || l.trace_id != row.trace_id
                });
                if moved {
                    relocated.insert(id);
                }
                all_rows.push(row);
            }
        }
        runs::insert_runs(&self.clickhouse, &all_rows, &superseded, |row| {
            relocated.contains(&row.id)
        })
        .await?;
        self.store_feedback(&feedback).await?;
        self.mark_touched(&touched).await?;
        Ok((all_rows.len(), feedback.len()))
    }

    /// Inserts feedback; the traces it is on move to the long retention tier.
    pub(super) async fn store_feedback(
        &self,
        feedback: &[ironsmith_analytics::runs::FeedbackRow],
    ) -> Result<(), IngestError> {
        runs::insert_feedback(&self.clickhouse, feedback).await?;
        let mut upgraded: Vec<(Uuid, Uuid)> =
            feedback.iter().map(|f| (f.tenant_id, f.trace_id)).collect();
        upgraded.sort_unstable();
        upgraded.dedup();
        for (tenant_id, traces) in group_by_tenant(&upgraded) {
            ironsmith_analytics::feedback::upgrade_traces(
                &self.clickhouse,
                tenant_id,
                &traces,
                chrono::Utc::now().timestamp_micros(),
                "feedback",
            )
            .await?;
        }
        Ok(())
    }

    /// The runs whose stored version must be read before folding: every run the batch
    /// updates or sends fields of without its create (`partial`), and every created run that
    /// such an operation touched before. A run whose only operations so far are creates is new,
    /// or a repeat of a create already stored with the same content, so it needs no look-up;
    /// that spares ClickHouse a point query per run on the common path, where the SDKs send a
    /// run's create and end as one operation.
    pub(super) async fn needing_lookup(
        &self,
        tenant_id: Uuid,
        ids: &[Uuid],
        partial: &HashSet<Uuid>,
    ) -> Result<Vec<Uuid>, IngestError> {
        let creates: Vec<Uuid> = ids
            .iter()
            .filter(|id| !partial.contains(id))
            .copied()
            .collect();
        let mut wanted: Vec<Uuid> = partial.iter().copied().collect();
        if creates.is_empty() {
            return Ok(wanted);
        }
        let redis = self.stream.redis();
        let keys: Vec<String> = creates
            .iter()
            .map(|id| redis.key(&touched_key(tenant_id, *id)))
            .collect();
        let mut conn = redis.connection().await?;
        let mut marks: Vec<Option<u8>> = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(5000) {
            let found: Vec<Option<u8>> = redis::cmd("MGET")
                .arg(chunk)
                .query_async(&mut conn)
                .await
                .map_err(QueueError::from)?;
            marks.extend(found);
        }
        wanted.extend(
            creates
                .iter()
                .zip(marks)
                .filter(|(_, mark)| mark.is_some())
                .map(|(id, _)| *id),
        );
        Ok(wanted)
    }

    /// Remembers, for six hours (as long as upstream keeps pending run state), the runs an
    /// update or a lone field part touched, so that a create arriving later is folded into
    /// what they stored instead of replacing it.
    pub(super) async fn mark_touched(&self, touched: &[(Uuid, Uuid)]) -> Result<(), IngestError> {
        if touched.is_empty() {
            return Ok(());
        }
        let redis = self.stream.redis();
        let mut conn = redis.connection().await?;
        // One pipeline per tenant: a tenant's marks share a slot on a Redis Cluster.
        let mut by_tenant: std::collections::BTreeMap<Uuid, Vec<Uuid>> = Default::default();
        for (tenant_id, id) in touched {
            by_tenant.entry(*tenant_id).or_default().push(*id);
        }
        for (tenant_id, ids) in by_tenant {
            for chunk in ids.chunks(5000) {
                let mut pipe = redis::pipe();
                for id in chunk {
                    pipe.set_ex(redis.key(&touched_key(tenant_id, *id)), 1u8, 6 * 3600)
                        .ignore();
                }
                pipe.query_async::<()>(&mut conn)
                    .await
                    .map_err(QueueError::from)?;
            }
        }
        Ok(())
    }

    /// Gives runs without a `dotted_order` (from `POST /runs` or OTLP, whose parent was not
    /// known when they were accepted) their position under their parent, found in this batch
    /// or in ClickHouse. Parents are resolved before their children.
    pub(super) async fn complete_positions(
        &self,
        tenant_id: Uuid,
        rows: &mut HashMap<Uuid, RunRow>,
    ) -> Result<(), IngestError> {
        let orphans: Vec<Uuid> = rows
            .values()
            .filter(|r| r.dotted_order.is_empty() && r.parent_run_id.is_some())
            .map(|r| r.id)
            .collect();
        if orphans.is_empty() {
            return Ok(());
        }
        let wanted: Vec<Uuid> = orphans
            .iter()
            .filter_map(|id| rows.get(id).and_then(|r| r.parent_run_id))
            .filter(|parent| !rows.contains_key(parent))
            .collect();
        let stored: HashMap<Uuid, (Uuid, String)> = if wanted.is_empty() {
            HashMap::new()
        } else {
            runs::locate(&self.clickhouse, tenant_id, &wanted)
                .await?
                .into_iter()
                .filter(|l| !l.dotted_order.is_empty())
                .map(|l| (l.id, (l.trace_id, l.dotted_order)))
                .collect()
        };
        // Repeat so chains of orphans in one batch resolve top-down.
        for _ in 0..orphans.len() {
            let mut progressed = false;
            for id in &orphans {
                let Some(row) = rows.get(id) else { continue };
                if !row.dotted_order.is_empty() {
                    continue;
                }
                let Some(parent) = row.parent_run_id else {
                    continue;
                };
                let position = rows
                    .get(&parent)
                    .filter(|p| !p.dotted_order.is_empty())
                    .map(|p| (p.trace_id, p.dotted_order.clone()))
                    .or_else(|| stored.get(&parent).cloned());
                if let Some((trace_id, parent_dotted)) = position
                    && let Some(row) = rows.get_mut(id)
                {
                    let start = if row.start_time_us == 0 {
                        row.received_us
                    } else {
                        row.start_time_us
                    };
                    row.trace_id = trace_id;
                    row.dotted_order = dotted_order::child_order(&parent_dotted, start, row.id);
                    progressed = true;
                }
            }
            if !progressed {
                break;
            }
        }
        Ok(())
    }
}

/// A create carrying its run part: what the SDKs send for almost every run.
pub(super) fn is_full_create(op: &RunOp) -> bool {
    op.kind == ironsmith_runs::OpKind::Post && op.has_run_part
}

pub(super) fn touched_key(tenant_id: Uuid, id: Uuid) -> String {
    ironsmith_redis::keys::ingest_touched(tenant_id, id)
}

/// Sorted `(tenant, item)` pairs grouped by tenant.
pub(super) fn group_by_tenant(pairs: &[(Uuid, Uuid)]) -> Vec<(Uuid, Vec<Uuid>)> {
    let mut groups: Vec<(Uuid, Vec<Uuid>)> = Vec::new();
    for (tenant_id, item) in pairs {
        match groups.last_mut() {
            Some((last, items)) if last == tenant_id => items.push(*item),
            _ => groups.push((*tenant_id, vec![*item])),
        }
    }
    groups
}
