-- Initial schema. Portable between SQLite (embedded default) and PostgreSQL
-- (production): TEXT keys, BIGINT numbers, times as Unix milliseconds (UTC).

-- Tenants and applications as applied from config/tenants/*.toml at start.
CREATE TABLE tenants (
    id                  TEXT PRIMARY KEY,
    kind                TEXT NOT NULL,
    display_name        TEXT NOT NULL,
    organisation_number TEXT NOT NULL,
    applied_at_ms       BIGINT NOT NULL
);

CREATE TABLE applications (
    tenant_id      TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id             TEXT NOT NULL,
    protocol       TEXT NOT NULL,      -- 'saml' | 'oidc'
    protocol_id    TEXT NOT NULL,      -- SAML entityID or OIDC client_id
    display_name   TEXT NOT NULL,
    applied_at_ms  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX applications_protocol_id ON applications (protocol, protocol_id);

CREATE TABLE tenant_admins (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    hsa_id    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, hsa_id)
);

-- The user directory, modelled on HSA: a person, their employments (one employee
-- HSA-id each, in one organisation) and each employment's commissions.
CREATE TABLE persons (
    id                       TEXT PRIMARY KEY,   -- internal UUID, never shown
    personal_identity_number TEXT UNIQUE,
    given_name               TEXT NOT NULL,
    surname                  TEXT NOT NULL,
    mail                     TEXT,
    updated_at_ms            BIGINT NOT NULL
);

CREATE TABLE employments (
    hsa_id              TEXT PRIMARY KEY,
    person_id           TEXT NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    organisation_number TEXT NOT NULL,
    organisation_name   TEXT NOT NULL,
    title               TEXT
);
CREATE INDEX employments_person ON employments (person_id);

CREATE TABLE commissions (
    hsa_id                      TEXT PRIMARY KEY,
    employment_hsa_id           TEXT NOT NULL REFERENCES employments (hsa_id) ON DELETE CASCADE,
    name                        TEXT NOT NULL,
    purpose                     TEXT NOT NULL,
    health_care_provider_hsa_id TEXT,
    health_care_unit_hsa_id     TEXT,
    rights                      TEXT NOT NULL    -- JSON array of strings
);
CREATE INDEX commissions_employment ON commissions (employment_hsa_id);

-- Audit log: who logged in where, when, with which certificate, and the result.
-- Personal identity numbers are not stored here; the person is referenced by id.
CREATE TABLE audit_log (
    id                  TEXT PRIMARY KEY,
    at_ms               BIGINT NOT NULL,
    event               TEXT NOT NULL,      -- e.g. 'login'
    outcome             TEXT NOT NULL,      -- 'success' | 'failure'
    code                TEXT,               -- stable error code on failure
    method              TEXT,               -- 'mtls' | 'mobile-qr' | ...
    tenant_id           TEXT,
    application_id      TEXT,
    person_id           TEXT,
    employee_hsa_id     TEXT,
    certificate_serial  TEXT,
    certificate_issuer  TEXT,
    client_address      TEXT,
    request_id          TEXT,
    detail              TEXT
);
CREATE INDEX audit_log_at ON audit_log (at_ms);
CREATE INDEX audit_log_employee ON audit_log (employee_hsa_id, at_ms);
