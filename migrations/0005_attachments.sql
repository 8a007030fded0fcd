-- Files attached to messages. The bytes live in the object store under `object_key`; a
-- message's deletion deletes its files.
CREATE TABLE attachments (
    id bigint PRIMARY KEY,
    message_id bigint NOT NULL REFERENCES messages ON DELETE CASCADE,
    channel_id bigint NOT NULL,
    filename text NOT NULL,
    description text,
    content_type text NOT NULL,
    size integer NOT NULL,
    object_key text NOT NULL
);
CREATE INDEX attachments_message_id ON attachments (message_id);
