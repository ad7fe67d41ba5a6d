-- What the login's certificate was ("smart-card", "mobile", "soft", "unspecified"), by
-- its issuer's [[trust.issuer]] certificate_type.
ALTER TABLE audit_log ADD COLUMN certificate_type TEXT;
