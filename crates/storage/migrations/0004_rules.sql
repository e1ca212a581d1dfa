-- Topic rules and HTTP topic rule destinations. Portable SQL, as 0001.

-- A rule's payload is the TopicRulePayload JSON as the API accepted it; `disabled` is an
-- INTEGER boolean. The primary key's index serves reads by name and the listing in name order.
CREATE TABLE topic_rules (
    name TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    disabled INTEGER NOT NULL,
    created BIGINT NOT NULL
);

-- One destination per confirmation URL (AWS refuses a second); the token is unique while it is
-- outstanding (NULLs do not collide, in SQLite or PostgreSQL).
CREATE TABLE topic_rule_destinations (
    arn TEXT PRIMARY KEY,
    confirmation_url TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    status_reason TEXT,
    confirmation_token TEXT UNIQUE,
    created BIGINT NOT NULL,
    updated BIGINT NOT NULL
);
