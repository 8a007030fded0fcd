-- Direct messages (one channel per pair of users) and group DMs, and the relationships that
-- decide who may open them: friends, requests, blocks.

ALTER TABLE channels ADD COLUMN owner_id bigint;      -- a group DM's owner
ALTER TABLE channels ADD COLUMN pair_key text UNIQUE;  -- "low:high" user ids: a pair's one DM

CREATE TABLE channel_recipients (
    channel_id bigint NOT NULL REFERENCES channels ON DELETE CASCADE,
    user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    PRIMARY KEY (channel_id, user_id)
);
CREATE INDEX channel_recipients_user_id ON channel_recipients (user_id);

-- Discord's relationship types: 1 friend, 2 blocked, 3 incoming request, 4 outgoing request.
CREATE TABLE relationships (
    user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    other_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    type smallint NOT NULL CHECK (type BETWEEN 1 AND 4),
    since timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, other_id),
    CHECK (user_id <> other_id)
);
