-- Like project ids: a dataset's id and an annotation queue's id (both of which clients may
-- propose) are unique within their workspace, so an id taken in another workspace is accepted
-- exactly like a fresh one and creating one tells nothing about other tenants. Every table that
-- names a dataset or a queue now names its workspace too, and every reference is by the pair.

-- Datasets. Dropping the key drops the foreign keys that lean on it; they are re-added by pair.
ALTER TABLE datasets DROP CONSTRAINT datasets_pkey CASCADE;
ALTER TABLE datasets ADD PRIMARY KEY (tenant_id, id);

ALTER TABLE dataset_versions ADD COLUMN tenant_id UUID;
UPDATE dataset_versions v SET tenant_id = d.tenant_id FROM datasets d WHERE d.id = v.dataset_id;
ALTER TABLE dataset_versions ALTER COLUMN tenant_id SET NOT NULL;
ALTER TABLE dataset_versions DROP CONSTRAINT dataset_versions_pkey CASCADE;
ALTER TABLE dataset_versions ADD PRIMARY KEY (tenant_id, dataset_id, as_of);
ALTER TABLE dataset_versions ADD FOREIGN KEY (tenant_id, dataset_id)
    REFERENCES datasets (tenant_id, id) ON DELETE CASCADE;

ALTER TABLE dataset_tags ADD COLUMN tenant_id UUID;
UPDATE dataset_tags t SET tenant_id = d.tenant_id FROM datasets d WHERE d.id = t.dataset_id;
ALTER TABLE dataset_tags ALTER COLUMN tenant_id SET NOT NULL;
ALTER TABLE dataset_tags DROP CONSTRAINT dataset_tags_pkey;
ALTER TABLE dataset_tags ADD PRIMARY KEY (tenant_id, dataset_id, tag);
ALTER TABLE dataset_tags ADD FOREIGN KEY (tenant_id, dataset_id, as_of)
    REFERENCES dataset_versions (tenant_id, dataset_id, as_of) ON DELETE CASCADE;

ALTER TABLE example_revisions ADD FOREIGN KEY (tenant_id, dataset_id)
    REFERENCES datasets (tenant_id, id) ON DELETE CASCADE;
DROP INDEX example_revisions_dataset;
CREATE INDEX example_revisions_dataset ON example_revisions (tenant_id, dataset_id, valid_from);

ALTER TABLE dataset_shares DROP CONSTRAINT dataset_shares_dataset_id_key;
ALTER TABLE dataset_shares ADD UNIQUE (tenant_id, dataset_id);
ALTER TABLE dataset_shares ADD FOREIGN KEY (tenant_id, dataset_id)
    REFERENCES datasets (tenant_id, id) ON DELETE CASCADE;

ALTER TABLE comparative_experiments ADD FOREIGN KEY (tenant_id, reference_dataset_id)
    REFERENCES datasets (tenant_id, id) ON DELETE CASCADE;

-- Annotation queues and their items.
ALTER TABLE annotation_queues DROP CONSTRAINT annotation_queues_pkey CASCADE;
ALTER TABLE annotation_queues ADD PRIMARY KEY (tenant_id, id);

ALTER TABLE annotation_queue_runs ADD COLUMN tenant_id UUID;
UPDATE annotation_queue_runs i SET tenant_id = q.tenant_id
    FROM annotation_queues q WHERE q.id = i.queue_id;
ALTER TABLE annotation_queue_runs ALTER COLUMN tenant_id SET NOT NULL;
ALTER TABLE annotation_queue_runs DROP CONSTRAINT annotation_queue_runs_queue_id_run_id_key;
ALTER TABLE annotation_queue_runs ADD UNIQUE (tenant_id, queue_id, run_id);
ALTER TABLE annotation_queue_runs ADD FOREIGN KEY (tenant_id, queue_id)
    REFERENCES annotation_queues (tenant_id, id) ON DELETE CASCADE;
DROP INDEX annotation_queue_runs_order;
CREATE INDEX annotation_queue_runs_order ON annotation_queue_runs (tenant_id, queue_id, added_at, id);
