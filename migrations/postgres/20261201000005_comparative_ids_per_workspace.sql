-- Like project ids: a comparative experiment's id (which clients may propose) is unique within
-- its workspace, so an id taken in another workspace is accepted like a fresh one.
ALTER TABLE comparative_experiments DROP CONSTRAINT comparative_experiments_pkey;
ALTER TABLE comparative_experiments ADD PRIMARY KEY (tenant_id, id);
