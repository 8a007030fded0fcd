-- Incoming webhooks, and what messages need to be posted by someone other than a connected
-- user: a webhook (its id and the name and avatar it posted with) or an application's
-- interaction response, and message components.

ALTER TABLE messages ADD COLUMN components jsonb NOT NULL DEFAULT '[]';
ALTER TABLE messages ADD COLUMN webhook_id bigint;
ALTER TABLE messages ADD COLUMN application_id bigint;
ALTER TABLE messages ADD COLUMN interaction_metadata jsonb;
-- A webhook's message shows the name and avatar it was sent with (Discord keeps them when
-- the webhook is renamed later); NULL for everyone else's messages.
ALTER TABLE messages ADD COLUMN author_name text;
ALTER TABLE messages ADD COLUMN author_avatar text;
-- A webhook's message is authored by the webhook itself (author.id is the webhook's id, as
-- on Discord), which is no user: author_id names a user or a webhook.
ALTER TABLE messages DROP CONSTRAINT messages_author_id_fkey;

-- Discord's webhook types: 1 incoming, 2 channel follower, 3 application (interactions).
-- Only incoming webhooks are stored. The token is never stored: it is an HMAC, under the
-- access-token key named `token_kid`, of the id and `token_salt`, so it can be shown again to
-- those with MANAGE_WEBHOOKS, as Discord does, and checked without a copy at rest. (Retiring
-- that key from TRIOXIDE_JWT_KEYS retires the webhook's token with it.)
CREATE TABLE webhooks (
    id bigint PRIMARY KEY,
    type smallint NOT NULL DEFAULT 1,
    guild_id bigint NOT NULL REFERENCES guilds ON DELETE CASCADE,
    channel_id bigint NOT NULL REFERENCES channels ON DELETE CASCADE,
    user_id bigint REFERENCES users ON DELETE SET NULL,   -- who created it
    application_id bigint,                                 -- the creating bot's application
    name text NOT NULL,
    avatar text,
    token_salt bytea NOT NULL,
    token_kid text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_channel_id ON webhooks (channel_id);
CREATE INDEX webhooks_guild_id ON webhooks (guild_id);
