-- Messages, their earlier versions, and reactions. A message's creation time is its snowflake.

CREATE TABLE messages (
    id bigint PRIMARY KEY,
    channel_id bigint NOT NULL REFERENCES channels ON DELETE CASCADE,
    guild_id bigint,
    author_id bigint NOT NULL REFERENCES users,
    type smallint NOT NULL DEFAULT 0,
    content text NOT NULL DEFAULT '',
    flags integer NOT NULL DEFAULT 0,
    tts boolean NOT NULL DEFAULT false,
    mention_everyone boolean NOT NULL DEFAULT false,
    mention_ids bigint[] NOT NULL DEFAULT '{}',
    mention_role_ids bigint[] NOT NULL DEFAULT '{}',
    embeds jsonb NOT NULL DEFAULT '[]',
    nonce text,
    referenced_message_id bigint,
    pinned_at timestamptz,
    edited_at timestamptz,
    -- 'simple': no stemming or stop words, so search behaves the same in every language.
    search tsvector GENERATED ALWAYS AS (to_tsvector('simple', content)) STORED
);
-- History pages: newest first within a channel.
CREATE INDEX messages_channel_id ON messages (channel_id, id DESC);
CREATE INDEX messages_search ON messages USING gin (search);
CREATE INDEX messages_nonce ON messages (channel_id, author_id, nonce) WHERE nonce IS NOT NULL;
CREATE INDEX messages_pinned ON messages (channel_id, pinned_at DESC) WHERE pinned_at IS NOT NULL;

-- Every earlier version of an edited message.
CREATE TABLE message_edits (
    message_id bigint NOT NULL REFERENCES messages ON DELETE CASCADE,
    replaced_at timestamptz NOT NULL DEFAULT now(),
    content text NOT NULL,
    embeds jsonb NOT NULL
);
CREATE INDEX message_edits_message_id ON message_edits (message_id);

CREATE TABLE reactions (
    message_id bigint NOT NULL REFERENCES messages ON DELETE CASCADE,
    emoji text NOT NULL,         -- the Unicode emoji, or name:id for a custom one
    user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, emoji, user_id)
);
