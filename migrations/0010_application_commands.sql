-- Application commands (Discord's "Application Commands"): an application's global commands
-- (guild_id NULL) and its commands in one guild. The option tree is kept as the JSON the
-- domain checked and normalised (core/domain/command_options.py), since it is only ever read
-- and written whole.
CREATE TABLE application_commands (
    id bigint PRIMARY KEY,
    application_id bigint NOT NULL REFERENCES applications ON DELETE CASCADE,
    guild_id bigint REFERENCES guilds ON DELETE CASCADE,  -- NULL: a global command
    -- 1 CHAT_INPUT, 2 USER, 3 MESSAGE (4 PRIMARY_ENTRY_POINT is refused: no Activities here)
    type smallint NOT NULL CHECK (type BETWEEN 1 AND 3),
    name text NOT NULL,
    name_localizations jsonb,
    description text NOT NULL,
    description_localizations jsonb,
    options jsonb NOT NULL DEFAULT '[]',
    default_member_permissions bigint,  -- NULL: everyone; 0: administrators only
    dm_permission boolean NOT NULL DEFAULT true,
    contexts smallint[],                -- NULL: Discord's default (every context)
    integration_types smallint[] NOT NULL DEFAULT '{0}',
    nsfw boolean NOT NULL DEFAULT false,
    -- A snowflake, new on every change that matters to an invocation (interactions carry the
    -- version they were made against).
    version bigint NOT NULL
);
-- Names are unique per application, type and scope. Global commands have no guild: 0 stands
-- for it so NULLs do not escape the constraint (PostgreSQL 14 has no NULLS NOT DISTINCT).
CREATE UNIQUE INDEX application_commands_scope_name
    ON application_commands (application_id, coalesce(guild_id, 0), type, name);
-- A guild's command index: every command usable in it, of every application.
CREATE INDEX application_commands_guild_id ON application_commands (guild_id)
    WHERE guild_id IS NOT NULL;
