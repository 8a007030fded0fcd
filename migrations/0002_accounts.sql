-- People and bots, their logins (sessions = refresh-token families), and bot applications.

CREATE TABLE users (
    id bigint PRIMARY KEY,
    username text NOT NULL,
    global_name text,
    email text,                 -- normalised; NULL for bots
    password_hash text,         -- Argon2id; NULL for bots
    avatar text,                -- hash of the image in user_images
    banner text,
    accent_color integer,
    bio text NOT NULL DEFAULT '',
    locale text NOT NULL DEFAULT 'en-US',
    flags bigint NOT NULL DEFAULT 0,
    public_flags bigint NOT NULL DEFAULT 0,
    bot boolean NOT NULL DEFAULT false,
    system boolean NOT NULL DEFAULT false,
    verified boolean NOT NULL DEFAULT false,
    mfa_enabled boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- Usernames are unique whatever their case; emails are stored normalised.
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (email) WHERE email IS NOT NULL;

-- Avatars and banners, until the object store arrives; served by hash.
CREATE TABLE user_images (
    user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    hash text NOT NULL,
    content_type text NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (user_id, hash)
);

-- One login: every refresh token rotated from it, and the access tokens they minted (sid).
CREATE TABLE sessions (
    id bigint PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- Refresh tokens, stored only as SHA-256. A used token records when it was rotated and the
-- key that derived its successor, so a retry inside the grace window gets the same pair.
CREATE TABLE refresh_tokens (
    token_hash bytea PRIMARY KEY,
    session_id bigint NOT NULL REFERENCES sessions ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    rotated_at timestamptz,
    rotated_with_kid text
);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

-- Single-use (or N-use) codes for TRIOXIDE_REGISTRATION=invite, stored only as SHA-256.
CREATE TABLE registration_codes (
    code_hash bytea PRIMARY KEY,
    uses_left integer NOT NULL CHECK (uses_left >= 0),
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A bot application. Its bot user has the application's id, as on Discord.
CREATE TABLE applications (
    id bigint PRIMARY KEY REFERENCES users ON DELETE CASCADE,
    owner_id bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    icon text,
    bot_public boolean NOT NULL DEFAULT true,
    bot_require_code_grant boolean NOT NULL DEFAULT false,
    flags bigint NOT NULL DEFAULT 0,
    verify_key text NOT NULL,
    bot_token_hash bytea UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX applications_owner_id ON applications (owner_id);
