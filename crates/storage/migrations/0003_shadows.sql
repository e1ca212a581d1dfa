-- Device shadows, by thing name and shadow name ('' for the classic shadow). Portable SQL, as
-- 0001.

-- No reference to things: a shadow outlives its thing, as in AWS IoT. A deleted shadow keeps its
-- row with a NULL document, so that its version counter goes on when it is written again.
-- The primary key's index serves both the reads by key and the listing of a thing's named
-- shadows in name order.
CREATE TABLE shadows (
    thing TEXT NOT NULL,
    shadow TEXT NOT NULL,
    document TEXT,
    version BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    PRIMARY KEY (thing, shadow)
);
