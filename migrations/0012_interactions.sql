-- Interactions: a person's command, click, modal submission or autocomplete request, answered
-- by a bot through a short-lived token. Rows live for an hour (core/domain/interactions.py
-- RETENTION); the worker's sweep deletes older ones, and their ephemeral messages with them.

CREATE TABLE interactions (
    id bigint PRIMARY KEY,
    application_id bigint NOT NULL REFERENCES applications ON DELETE CASCADE,
    type smallint NOT NULL,
    user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,   -- who invoked it
    guild_id bigint,
    channel_id bigint NOT NULL REFERENCES channels ON DELETE CASCADE,
    -- SHA-256 of the token: the token itself is shown once, to the bot, and never stored.
    token_hash bytea NOT NULL UNIQUE,
    nonce text,
    -- What interaction_metadata and INTERACTION_MODAL_CREATE repeat: the command's name and
    -- type (types 2 and 4), the target of a user or message command, the clicked message
    -- (type 3), the interaction whose modal this submits (type 5).
    name text NOT NULL DEFAULT '',
    command_type smallint,
    target_id bigint,
    message_id bigint,
    triggering_id bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- The one callback (its type), or the failure after 3 s without one: each is set by a
    -- conditional UPDATE, so a callback racing the failure sweep cannot both win.
    response_type smallint,
    responded_at timestamptz,
    failed_at timestamptz,
    -- The message @original names: the response message (callbacks 4, 5), or the clicked
    -- message (6, 7); and whether it is ephemeral.
    original_id bigint,
    original_ephemeral boolean NOT NULL DEFAULT false,
    -- The modal callback 9 opened: its id (the submission's data.id), custom_id and text
    -- inputs; submitted once.
    modal_id bigint UNIQUE,
    modal jsonb,
    modal_submitted boolean NOT NULL DEFAULT false
);
-- The failure sweep reads only the interactions still waiting for their callback.
CREATE INDEX interactions_waiting ON interactions (created_at)
    WHERE response_type IS NULL AND failed_at IS NULL;
CREATE INDEX interactions_created_at ON interactions (created_at);

-- Every message an interaction created (its response and follow-ups), so the token edits and
-- deletes only those.
CREATE TABLE interaction_messages (
    interaction_id bigint NOT NULL REFERENCES interactions ON DELETE CASCADE,
    message_id bigint NOT NULL,
    ephemeral boolean NOT NULL,
    PRIMARY KEY (interaction_id, message_id)
);
CREATE INDEX interaction_messages_message_id ON interaction_messages (message_id);

-- Ephemeral messages (flag 64) exist for their one viewer only: kept apart from `messages`,
-- so no history page, search, pin or reaction can ever reach them.
CREATE TABLE ephemeral_messages (
    id bigint PRIMARY KEY,
    interaction_id bigint NOT NULL REFERENCES interactions ON DELETE CASCADE,
    viewer_id bigint NOT NULL,
    channel_id bigint NOT NULL,
    guild_id bigint,
    author_id bigint NOT NULL,        -- the application's bot user
    type smallint NOT NULL,
    content text NOT NULL DEFAULT '',
    flags integer NOT NULL,
    embeds jsonb NOT NULL DEFAULT '[]',
    components jsonb NOT NULL DEFAULT '[]',
    interaction_metadata jsonb NOT NULL,
    edited_at timestamptz
);
CREATE INDEX ephemeral_messages_interaction_id ON ephemeral_messages (interaction_id);
