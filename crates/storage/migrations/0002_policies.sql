-- AWS IoT policies, their versions and their attachments to targets (certificate and thing-group
-- ARNs). Portable SQL, as 0001.

-- next_version_id is the id the next version gets: ids are never reused after a deletion, so
-- it cannot be derived from the versions that remain.
CREATE TABLE policies (
    name TEXT PRIMARY KEY,
    default_version_id BIGINT NOT NULL,
    next_version_id BIGINT NOT NULL,
    created BIGINT NOT NULL,
    last_modified BIGINT NOT NULL,
    generation_id TEXT NOT NULL
);

CREATE TABLE policy_versions (
    policy TEXT NOT NULL REFERENCES policies (name) ON DELETE CASCADE,
    version_id BIGINT NOT NULL,
    document TEXT NOT NULL,
    created BIGINT NOT NULL,
    PRIMARY KEY (policy, version_id)
);

-- No cascade: a policy is deleted only once it is detached everywhere, and the reference turns
-- a lapse of that rule into an error instead of silently dropping attachments.
CREATE TABLE policy_targets (
    policy TEXT NOT NULL REFERENCES policies (name),
    target TEXT NOT NULL,
    PRIMARY KEY (policy, target)
);
CREATE INDEX policy_targets_by_target ON policy_targets (target, policy);
