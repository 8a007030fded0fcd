-- What lets a process cache a guild's permission state safely: a version that every change to
-- it bumps, in the transaction that makes the change. A request reads the version beside the
-- member's own row (one round trip) and reloads the guild only when it moved, so a committed
-- change is seen by the very next request, on every process. Triggers do the bumping so that no
-- code path can forget it.
--
-- Versions come from a sequence, not from counting: a sequence never hands out a number twice,
-- even when the transaction that took it rolls back, so a snapshot cached inside a transaction
-- that later failed can never match a version that was committed.

CREATE SEQUENCE guild_access_versions;
ALTER TABLE guilds ADD COLUMN access_version bigint NOT NULL DEFAULT nextval('guild_access_versions');

-- Any change to the guild row itself (owner, name, ...) moves its version, unless the change
-- was that bump.
CREATE FUNCTION guilds_bump_access_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.access_version = OLD.access_version THEN
        NEW.access_version := nextval('guild_access_versions');
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER guilds_access_version BEFORE UPDATE ON guilds
    FOR EACH ROW EXECUTE FUNCTION guilds_bump_access_version();

-- Roles and channels carry their guild's id.
CREATE FUNCTION bump_guild_access_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE guilds SET access_version = nextval('guild_access_versions')
        WHERE id IN (NEW.guild_id, OLD.guild_id);
    RETURN NULL;
END $$;
CREATE TRIGGER roles_access_version AFTER INSERT OR UPDATE OR DELETE ON roles
    FOR EACH ROW EXECUTE FUNCTION bump_guild_access_version();
CREATE TRIGGER channels_access_version AFTER INSERT OR UPDATE OR DELETE ON channels
    FOR EACH ROW EXECUTE FUNCTION bump_guild_access_version();

-- Overwrites belong to a channel.
CREATE FUNCTION bump_channel_guild_access_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE guilds SET access_version = nextval('guild_access_versions')
        WHERE id IN (SELECT guild_id FROM channels WHERE id IN (NEW.channel_id, OLD.channel_id));
    RETURN NULL;
END $$;
CREATE TRIGGER permission_overwrites_access_version
    AFTER INSERT OR UPDATE OR DELETE ON permission_overwrites
    FOR EACH ROW EXECUTE FUNCTION bump_channel_guild_access_version();

-- A channel's last message is read from the messages index instead of being written with every
-- message: that write made every sender in a channel queue on one row lock.
ALTER TABLE channels DROP COLUMN last_message_id;
