-- The registry: tenants (with their population, applications, grants and admins) as
-- live data, one JSON document per tenant, read whole by every node into an immutable
-- snapshot. Every write is one transaction: the documents, the version bump (nodes
-- watch `registry_version`) and the admin audit records.

DROP TABLE tenant_admins;
DROP TABLE applications;
DROP TABLE tenants;

CREATE TABLE registry_tenants (
    id            TEXT PRIMARY KEY,
    document      TEXT NOT NULL,      -- JSON of the tenant
    source        TEXT,               -- the TOML file text it was imported from, if unchanged since
    updated_at_ms BIGINT NOT NULL
);

CREATE TABLE registry_version (
    id      INTEGER PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO registry_version (id, version) VALUES (1, 0);

-- Who changed what in the registry, before and after (JSON), in the same transaction.
CREATE TABLE admin_audit (
    id               TEXT PRIMARY KEY,
    at_ms            BIGINT NOT NULL,
    actor            TEXT NOT NULL,      -- 'operator:<name>' | 'admin:<hsa-id>' | 'token:<id>'
    action           TEXT NOT NULL,      -- e.g. 'application.create'
    tenant_id        TEXT,
    object           TEXT,               -- e.g. 'storstad/omsorg'
    before_json      TEXT,
    after_json       TEXT,
    registry_version BIGINT NOT NULL
);
CREATE INDEX admin_audit_tenant ON admin_audit (tenant_id, at_ms);
