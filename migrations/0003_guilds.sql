-- Guilds, their roles, channels, overwrites, members, bans, invites and audit log, and the
-- outbox every mutation writes its gateway event to in the same transaction.
-- Permission bit sets are unsigned 64-bit on the wire; they are stored in bigint's 64 bits
-- (two's complement), converted at the store boundary.

CREATE TABLE guilds (
    id bigint PRIMARY KEY,
    name text NOT NULL,
    icon text,
    description text,
    owner_id bigint NOT NULL REFERENCES users,
    afk_channel_id bigint,
    afk_timeout integer NOT NULL DEFAULT 300,
    system_channel_id bigint,
    verification_level smallint NOT NULL DEFAULT 0,
    default_message_notifications smallint NOT NULL DEFAULT 0,
    explicit_content_filter smallint NOT NULL DEFAULT 0,
    preferred_locale text NOT NULL DEFAULT 'en-US',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX guilds_owner_id ON guilds (owner_id);

CREATE TABLE roles (
    id bigint PRIMARY KEY,
    guild_id bigint NOT NULL REFERENCES guilds ON DELETE CASCADE,
    name text NOT NULL,
    color integer NOT NULL DEFAULT 0,
    hoist boolean NOT NULL DEFAULT false,
    unicode_emoji text,
    position integer NOT NULL DEFAULT 0,
    permissions bigint NOT NULL DEFAULT 0,
    managed boolean NOT NULL DEFAULT false,
    mentionable boolean NOT NULL DEFAULT false
);
CREATE INDEX roles_guild_id ON roles (guild_id);

CREATE TABLE channels (
    id bigint PRIMARY KEY,
    guild_id bigint REFERENCES guilds ON DELETE CASCADE,
    type smallint NOT NULL,
    name text,
    topic text,
    position integer NOT NULL DEFAULT 0,
    parent_id bigint,
    nsfw boolean NOT NULL DEFAULT false,
    rate_limit_per_user integer NOT NULL DEFAULT 0,
    bitrate integer,
    user_limit integer,
    last_message_id bigint,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX channels_guild_id ON channels (guild_id);

CREATE TABLE permission_overwrites (
    channel_id bigint NOT NULL REFERENCES channels ON DELETE CASCADE,
    target_id bigint NOT NULL,
    type smallint NOT NULL CHECK (type IN (0, 1)),
    allow bigint NOT NULL DEFAULT 0,
    deny bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (channel_id, target_id)
);

CREATE TABLE members (
    guild_id bigint NOT NULL REFERENCES guilds ON DELETE CASCADE,
    user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    nick text,
    role_ids bigint[] NOT NULL DEFAULT '{}',
    joined_at timestamptz NOT NULL DEFAULT now(),
    deaf boolean NOT NULL DEFAULT false,
    mute boolean NOT NULL DEFAULT false,
    flags integer NOT NULL DEFAULT 0,
    communication_disabled_until timestamptz,
    PRIMARY KEY (guild_id, user_id)
);
CREATE INDEX members_user_id ON members (user_id);

CREATE TABLE bans (
    guild_id bigint NOT NULL REFERENCES guilds ON DELETE CASCADE,
    user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (guild_id, user_id)
);

CREATE TABLE invites (
    code text PRIMARY KEY,
    guild_id bigint NOT NULL REFERENCES guilds ON DELETE CASCADE,
    channel_id bigint NOT NULL REFERENCES channels ON DELETE CASCADE,
    inviter_id bigint REFERENCES users ON DELETE SET NULL,
    max_age integer NOT NULL DEFAULT 86400,
    max_uses integer NOT NULL DEFAULT 0,
    uses integer NOT NULL DEFAULT 0,
    temporary boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz
);
CREATE INDEX invites_guild_id ON invites (guild_id);

CREATE TABLE audit_log (
    id bigint PRIMARY KEY,
    guild_id bigint NOT NULL REFERENCES guilds ON DELETE CASCADE,
    user_id bigint,
    target_id bigint,
    action_type smallint NOT NULL,
    changes jsonb NOT NULL DEFAULT '[]',
    options jsonb,
    reason text
);
CREATE INDEX audit_log_guild_id ON audit_log (guild_id, id DESC);

-- Gateway events committed with the change they describe; the relay publishes them.
CREATE TABLE outbox (
    id bigint PRIMARY KEY,
    event text NOT NULL,
    guild_id bigint,
    channel_id bigint,
    user_ids bigint[],
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
