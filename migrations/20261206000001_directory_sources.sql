-- The directory from sources (LDAP sync, SCIM, file imports, the development seed).
-- Each source writes records (what it says about one person); a person is the union of
-- the active records with the same personal identity number. The old tables only ever
-- held the development seed, which every start rewrote; nothing is lost by dropping them.
DROP TABLE commissions;
DROP TABLE employments;
DROP TABLE persons;

-- A person: the stable internal id (subjects, pseudonyms and the audit log derive from
-- it; random, never derived from the personal identity number).
CREATE TABLE directory_persons (
    id                       TEXT PRIMARY KEY,
    personal_identity_number TEXT UNIQUE,       -- NULL: known only by HSA-id
    created_at_ms            BIGINT NOT NULL
);

-- What one source says about one person: names, mail, employments and commissions (JSON).
CREATE TABLE directory_records (
    source         TEXT NOT NULL,               -- e.g. "region/hsa-ldap"
    external_id    TEXT NOT NULL,               -- the source's own key (DN, SCIM id, row key)
    tenant_id      TEXT,                        -- the source's tenant; NULL: a platform source
    person_id      TEXT NOT NULL REFERENCES directory_persons (id),
    body           TEXT NOT NULL,
    version        BIGINT NOT NULL,             -- bumped on every change (SCIM ETag)
    created_at_ms  BIGINT NOT NULL,
    updated_at_ms  BIGINT NOT NULL,
    disabled_at_ms BIGINT,                      -- gone from the source: no login; removed later
    user_name_key  TEXT,                        -- the source's name for the person, lower-case
    PRIMARY KEY (source, external_id)
);
CREATE INDEX directory_records_person ON directory_records (person_id);
CREATE INDEX directory_records_user_name ON directory_records (source, user_name_key);

-- Every HSA-id a record holds (employments and commissions), unique across all sources.
CREATE TABLE directory_hsa_ids (
    hsa_id      TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,                  -- "employment" or "commission"
    source      TEXT NOT NULL,
    external_id TEXT NOT NULL,
    person_id   TEXT NOT NULL
);
CREATE INDEX directory_hsa_ids_record ON directory_hsa_ids (source, external_id);

-- The state of each source: last attempt, last success, what it wrote and refused.
CREATE TABLE directory_sources (
    source             TEXT PRIMARY KEY,
    tenant_id          TEXT,
    kind               TEXT NOT NULL,
    last_attempt_at_ms BIGINT,
    last_success_at_ms BIGINT,
    last_error         TEXT,
    cursor             TEXT,                    -- incremental sync high-water mark
    report             TEXT,                    -- JSON: the last run's counts and refusals
    last_full_at_ms    BIGINT,                  -- the last successful full run
    lease_holder       TEXT,                    -- the node running a sync now
    lease_until_ms     BIGINT
);

-- API tokens get a purpose: the admin API or SCIM provisioning of one tenant.
ALTER TABLE api_tokens ADD COLUMN purpose TEXT NOT NULL DEFAULT 'admin';
