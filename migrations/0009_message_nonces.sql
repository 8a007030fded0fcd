-- enforce_nonce, enforced by the database: one row per (channel, author, nonce) names the
-- message that nonce created. Simultaneous sends with one nonce meet on this primary key; the
-- loser waits for the winner's transaction and then answers the winner's message. A row older
-- than the window (5 minutes, core/domain/messages.py NONCE_WINDOW) is taken over by the next
-- send with that nonce, which creates a new message, as Discord's do.
CREATE TABLE message_nonces (
    channel_id bigint NOT NULL,
    author_id bigint NOT NULL,
    nonce text NOT NULL,
    -- Deferred: the nonce is claimed before its message is written, in the same transaction.
    message_id bigint NOT NULL REFERENCES messages ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, author_id, nonce)
);
CREATE INDEX message_nonces_message_id ON message_nonces (message_id);
