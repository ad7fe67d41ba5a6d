-- Bearer tokens for the admin API (automation): scoped to one tenant, or to the platform
-- operator. Only the SHA-256 of a token is stored; it is shown once at creation.
CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT,               -- NULL: an operator token
    name          TEXT NOT NULL,
    token_sha256  TEXT NOT NULL UNIQUE,
    created_at_ms BIGINT NOT NULL,
    created_by    TEXT NOT NULL,
    revoked_at_ms BIGINT
);
CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id);
