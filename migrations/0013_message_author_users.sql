-- 0011 dropped messages.author_id's foreign key because a webhook's message names the webhook
-- as its author. This restores it for every other message: a foreign key cannot be
-- conditional, and a CHECK cannot read another table, but a foreign key on a generated column
-- can be: `user_author_id` is author_id where no webhook posted the message (NULL, which a
-- foreign key lets through, where one did), so a person's or a bot's message still cannot
-- name a user who does not exist. (Interaction responses carry the application's id as their
-- webhook_id, so they are not checked: their author is the application's own bot.)
-- Adding a stored column rewrites the table and rebuilds its indexes once, under the
-- migration's lock (measured: 9 s per million messages on a 2-core machine, most of it the
-- search index); each insert after that costs the one primary-key lookup the original
-- foreign key did.
ALTER TABLE messages ADD COLUMN user_author_id bigint
    GENERATED ALWAYS AS (CASE WHEN webhook_id IS NULL THEN author_id END) STORED
    REFERENCES users;
