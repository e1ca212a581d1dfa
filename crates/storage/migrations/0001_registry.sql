-- The registry: things, thing types, thing groups, certificates, CA certificates, principals,
-- tags and API access keys. Portable SQL (SQLite and PostgreSQL): times are BIGINT milliseconds
-- since the Unix epoch, booleans are INTEGER 0/1.

CREATE TABLE things (
    name TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    thing_type TEXT,
    version BIGINT NOT NULL,
    created BIGINT NOT NULL
);
CREATE INDEX things_by_type ON things (thing_type, name);

CREATE TABLE thing_attributes (
    thing TEXT NOT NULL REFERENCES things (name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (thing, name)
);
CREATE INDEX thing_attributes_by_value ON thing_attributes (name, value, thing);

CREATE TABLE thing_types (
    name TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    description TEXT,
    searchable_attributes TEXT NOT NULL,
    deprecated BIGINT,
    created BIGINT NOT NULL
);

CREATE TABLE thing_groups (
    name TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    parent TEXT REFERENCES thing_groups (name),
    description TEXT,
    version BIGINT NOT NULL,
    created BIGINT NOT NULL
);
CREATE INDEX thing_groups_by_parent ON thing_groups (parent, name);

CREATE TABLE thing_group_attributes (
    thing_group TEXT NOT NULL REFERENCES thing_groups (name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (thing_group, name)
);

CREATE TABLE thing_group_members (
    thing_group TEXT NOT NULL REFERENCES thing_groups (name) ON DELETE CASCADE,
    thing TEXT NOT NULL REFERENCES things (name) ON DELETE CASCADE,
    PRIMARY KEY (thing_group, thing)
);
CREATE INDEX thing_group_members_by_thing ON thing_group_members (thing, thing_group);

CREATE TABLE ca_certificates (
    id TEXT PRIMARY KEY,
    pem TEXT NOT NULL,
    status TEXT NOT NULL,
    auto_registration INTEGER NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    created BIGINT NOT NULL,
    last_modified BIGINT NOT NULL,
    version BIGINT NOT NULL,
    generation_id TEXT NOT NULL
);
CREATE INDEX ca_certificates_by_created ON ca_certificates (created, id);

CREATE TABLE certificates (
    id TEXT PRIMARY KEY,
    pem TEXT NOT NULL,
    ca_certificate_id TEXT,
    status TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    created BIGINT NOT NULL,
    last_modified BIGINT NOT NULL,
    version BIGINT NOT NULL,
    generation_id TEXT NOT NULL
);
CREATE INDEX certificates_by_created ON certificates (created, id);
CREATE INDEX certificates_by_ca ON certificates (ca_certificate_id, created, id);

CREATE TABLE thing_principals (
    thing TEXT NOT NULL REFERENCES things (name) ON DELETE CASCADE,
    principal TEXT NOT NULL,
    exclusive INTEGER NOT NULL,
    PRIMARY KEY (thing, principal)
);
CREATE INDEX thing_principals_by_principal ON thing_principals (principal, thing);

CREATE TABLE tags (
    arn TEXT NOT NULL,
    tag_key TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (arn, tag_key)
);

CREATE TABLE access_keys (
    access_key_id TEXT PRIMARY KEY,
    secret_access_key TEXT NOT NULL,
    user_name TEXT NOT NULL,
    created BIGINT NOT NULL
);
