//! Discord's permission resolution ("Permissions" topic, "Permission Overwrites"):
//!
//! 1. The guild owner has every permission.
//! 2. Base: `@everyone`'s permissions OR those of each of the member's roles; `ADMINISTRATOR`
//!    grants every permission and skips the channel's overwrites.
//! 3. In a channel, overwrites apply in order: `@everyone`'s (deny, then allow), then all the
//!    member's roles' together (their denies, then their allows), then the member's own.
//! 4. Implicit rules: without `VIEW_CHANNEL` nothing else is left; in a text channel, without
//!    `SEND_MESSAGES` the permissions that only make sense when sending go too.
//! 5. A timed-out member keeps only `VIEW_CHANNEL` and `READ_MESSAGE_HISTORY`.
//!
//! All 64 bits are carried, so permissions Discord adds later pass through unchanged.

use std::collections::HashMap;

pub const ADMINISTRATOR: u64 = 1 << 3;
pub const VIEW_CHANNEL: u64 = 1 << 10;
pub const SEND_MESSAGES: u64 = 1 << 11;
pub const SEND_TTS_MESSAGES: u64 = 1 << 12;
pub const EMBED_LINKS: u64 = 1 << 14;
pub const ATTACH_FILES: u64 = 1 << 15;
pub const READ_MESSAGE_HISTORY: u64 = 1 << 16;
pub const MENTION_EVERYONE: u64 = 1 << 17;
/// Every bit: what the owner and administrators have.
pub const ALL: u64 = u64::MAX;

/// Lost in a text channel along with `SEND_MESSAGES`.
const NEEDS_SEND: u64 = MENTION_EVERYONE | SEND_TTS_MESSAGES | ATTACH_FILES | EMBED_LINKS;
/// All a timed-out member keeps.
const TIMED_OUT_KEEPS: u64 = VIEW_CHANNEL | READ_MESSAGE_HISTORY;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PermissionsError {
    #[error("the roles must include @everyone, whose id is the guild id ({guild_id})")]
    NoEveryoneRole { guild_id: u64 },
    #[error("role {role_id} is listed twice")]
    DuplicateRole { role_id: u64 },
    #[error("overwrite type {kind} for {id} is neither 0 (role) nor 1 (member)")]
    BadOverwriteType { id: u64, kind: u8 },
}

/// Who an overwrite is for: Discord's overwrite `type` 0 (role) or 1 (member).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Role,
    Member,
}

impl Target {
    /// # Errors
    /// A type other than 0 or 1.
    pub fn from_discord(id: u64, kind: u8) -> Result<Self, PermissionsError> {
        match kind {
            0 => Ok(Self::Role),
            1 => Ok(Self::Member),
            _ => Err(PermissionsError::BadOverwriteType { id, kind }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overwrite {
    pub id: u64,
    pub target: Target,
    pub allow: u64,
    pub deny: u64,
}

/// A guild's roles, indexed once so that resolving many members costs array lookups.
#[derive(Debug, Clone)]
pub struct Guild {
    id: u64,
    owner_id: u64,
    everyone: u64,
    /// Role id → index into `permissions` (and into a channel's per-role overwrites).
    index: HashMap<u64, usize>,
    permissions: Vec<u64>,
}

/// A channel's overwrites, laid out for one guild's role indices.
#[derive(Debug, Clone)]
pub struct Channel {
    text: bool,
    everyone_allow: u64,
    everyone_deny: u64,
    /// Per role index; zero where the role has no overwrite.
    role_allow: Vec<u64>,
    role_deny: Vec<u64>,
    members: HashMap<u64, (u64, u64)>,
}

/// One member as the resolver needs them: their roles as the guild's role indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: u64,
    pub roles: Vec<usize>,
    pub timed_out: bool,
}

impl Guild {
    /// # Errors
    /// `roles` (pairs of role id and permissions) lacks `@everyone` or lists a role twice.
    pub fn new(
        guild_id: u64,
        owner_id: u64,
        roles: &[(u64, u64)],
    ) -> Result<Self, PermissionsError> {
        let mut index = HashMap::with_capacity(roles.len());
        let mut permissions = Vec::with_capacity(roles.len());
        let mut everyone = None;
        for &(role_id, role_permissions) in roles {
            if index.insert(role_id, permissions.len()).is_some() {
                return Err(PermissionsError::DuplicateRole { role_id });
            }
            permissions.push(role_permissions);
            if role_id == guild_id {
                everyone = Some(role_permissions);
            }
        }
        let everyone = everyone.ok_or(PermissionsError::NoEveryoneRole { guild_id })?;
        Ok(Self {
            id: guild_id,
            owner_id,
            everyone,
            index,
            permissions,
        })
    }

    /// A member whose role ids are mapped to this guild's indices. Unknown ids (a role deleted
    /// since the member was loaded) and `@everyone` itself grant nothing extra, so they drop.
    #[must_use]
    pub fn member(&self, user_id: u64, role_ids: &[u64], timed_out: bool) -> Member {
        let roles = role_ids
            .iter()
            .filter(|&&role_id| role_id != self.id)
            .filter_map(|role_id| self.index.get(role_id).copied())
            .collect();
        Member {
            user_id,
            roles,
            timed_out,
        }
    }

    /// The channel's overwrites laid out for this guild. An overwrite for a role the guild
    /// does not have applies to nobody, so it is dropped.
    #[must_use]
    pub fn channel(&self, overwrites: &[Overwrite], text: bool) -> Channel {
        let mut channel = Channel {
            text,
            everyone_allow: 0,
            everyone_deny: 0,
            role_allow: vec![0; self.permissions.len()],
            role_deny: vec![0; self.permissions.len()],
            members: HashMap::new(),
        };
        for overwrite in overwrites {
            match overwrite.target {
                Target::Role if overwrite.id == self.id => {
                    channel.everyone_allow |= overwrite.allow;
                    channel.everyone_deny |= overwrite.deny;
                }
                Target::Role => {
                    if let Some(&at) = self.index.get(&overwrite.id) {
                        if let (Some(allow), Some(deny)) = (
                            channel.role_allow.get_mut(at),
                            channel.role_deny.get_mut(at),
                        ) {
                            *allow |= overwrite.allow;
                            *deny |= overwrite.deny;
                        }
                    }
                }
                Target::Member => {
                    let entry = channel.members.entry(overwrite.id).or_insert((0, 0));
                    entry.0 |= overwrite.allow;
                    entry.1 |= overwrite.deny;
                }
            }
        }
        channel
    }

    /// The member's guild-wide permissions.
    #[must_use]
    pub fn base(&self, member: &Member) -> u64 {
        if member.user_id == self.owner_id {
            return ALL;
        }
        let mut permissions = self.everyone;
        for &role in &member.roles {
            permissions |= self.permissions.get(role).copied().unwrap_or(0);
        }
        if permissions & ADMINISTRATOR != 0 {
            return ALL;
        }
        if member.timed_out {
            permissions &= TIMED_OUT_KEEPS;
        }
        permissions
    }

    /// The member's permissions in `channel`.
    #[must_use]
    pub fn in_channel(&self, member: &Member, channel: &Channel) -> u64 {
        let base = self.base(member);
        if base == ALL {
            return ALL; // the owner, or an administrator: overwrites do not apply
        }
        let mut permissions = (base & !channel.everyone_deny) | channel.everyone_allow;
        let (mut allow, mut deny) = (0, 0);
        for &role in &member.roles {
            allow |= channel.role_allow.get(role).copied().unwrap_or(0);
            deny |= channel.role_deny.get(role).copied().unwrap_or(0);
        }
        permissions = (permissions & !deny) | allow;
        if let Some(&(member_allow, member_deny)) = channel.members.get(&member.user_id) {
            permissions = (permissions & !member_deny) | member_allow;
        }
        if permissions & VIEW_CHANNEL == 0 {
            return 0;
        }
        if channel.text && permissions & SEND_MESSAGES == 0 {
            permissions &= !NEEDS_SEND;
        }
        if member.timed_out {
            permissions &= TIMED_OUT_KEEPS;
        }
        permissions
    }

    /// For each member, in order: 1 when they have every bit of `wanted` in `channel`, else 0.
    /// Bytes rather than bools, so the mask crosses to Python as-is.
    #[must_use]
    pub fn who_has(&self, members: &[Member], channel: &Channel, wanted: u64) -> Vec<u8> {
        members
            .iter()
            .map(|member| u8::from(self.in_channel(member, channel) & wanted == wanted))
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const GUILD: u64 = 100;
    const OWNER: u64 = 1;
    const MOD_ROLE: u64 = 200;
    const MUTED_ROLE: u64 = 201;
    const ADMIN_ROLE: u64 = 202;
    const ALICE: u64 = 10;
    const BOB: u64 = 11;
    const EVERYONE_PERMS: u64 = VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY | EMBED_LINKS;

    fn guild() -> Guild {
        Guild::new(
            GUILD,
            OWNER,
            &[
                (GUILD, EVERYONE_PERMS),
                (MOD_ROLE, MENTION_EVERYONE | (1 << 13)),
                (MUTED_ROLE, 0),
                (ADMIN_ROLE, ADMINISTRATOR),
            ],
        )
        .unwrap()
    }

    fn overwrite(id: u64, target: Target, allow: u64, deny: u64) -> Overwrite {
        Overwrite {
            id,
            target,
            allow,
            deny,
        }
    }

    #[test]
    fn base_is_everyone_or_roles() {
        let guild = guild();
        assert_eq!(guild.base(&guild.member(ALICE, &[], false)), EVERYONE_PERMS);
        assert_eq!(
            guild.base(&guild.member(ALICE, &[MOD_ROLE], false)),
            EVERYONE_PERMS | MENTION_EVERYONE | (1 << 13)
        );
    }

    #[test]
    fn owner_and_administrators_have_everything_despite_overwrites() {
        let guild = guild();
        let locked = guild.channel(&[overwrite(GUILD, Target::Role, 0, ALL)], true);
        assert_eq!(
            guild.in_channel(&guild.member(OWNER, &[], true), &locked),
            ALL
        );
        assert_eq!(
            guild.in_channel(&guild.member(ALICE, &[ADMIN_ROLE], false), &locked),
            ALL
        );
        assert_eq!(
            guild.in_channel(&guild.member(ALICE, &[], false), &locked),
            0
        );
    }

    #[test]
    fn overwrites_apply_everyone_then_roles_then_member() {
        let guild = guild();
        let channel = guild.channel(
            &[
                overwrite(GUILD, Target::Role, 0, VIEW_CHANNEL),
                overwrite(MOD_ROLE, Target::Role, VIEW_CHANNEL, 0),
                overwrite(MUTED_ROLE, Target::Role, 0, SEND_MESSAGES),
                overwrite(BOB, Target::Member, SEND_MESSAGES, 0),
            ],
            true,
        );
        // @everyone cannot see it; the mod role can.
        assert_eq!(
            guild.in_channel(&guild.member(ALICE, &[], false), &channel),
            0
        );
        let moderator = guild.in_channel(&guild.member(ALICE, &[MOD_ROLE], false), &channel);
        assert_ne!(moderator & VIEW_CHANNEL, 0);
        // A role deny and another role's allow: the allow wins (denies go first).
        let both = guild.in_channel(
            &guild.member(ALICE, &[MOD_ROLE, MUTED_ROLE], false),
            &channel,
        );
        assert_eq!(both & SEND_MESSAGES, 0, "no role allows SEND_MESSAGES back");
        // The member's own overwrite beats their roles'.
        let bob = guild.in_channel(&guild.member(BOB, &[MOD_ROLE, MUTED_ROLE], false), &channel);
        assert_ne!(bob & SEND_MESSAGES, 0);
    }

    #[test]
    fn role_allow_beats_another_roles_deny_but_not_the_members_deny() {
        let guild = guild();
        let channel = guild.channel(
            &[
                overwrite(MUTED_ROLE, Target::Role, 0, EMBED_LINKS),
                overwrite(MOD_ROLE, Target::Role, EMBED_LINKS, 0),
                overwrite(BOB, Target::Member, 0, EMBED_LINKS),
            ],
            false,
        );
        let alice = guild.member(ALICE, &[MUTED_ROLE, MOD_ROLE], false);
        let bob = guild.member(BOB, &[MUTED_ROLE, MOD_ROLE], false);
        assert_ne!(guild.in_channel(&alice, &channel) & EMBED_LINKS, 0);
        assert_eq!(guild.in_channel(&bob, &channel) & EMBED_LINKS, 0);
    }

    #[test]
    fn text_channel_without_send_loses_what_sending_needs() {
        let guild = guild();
        let overwrites = [overwrite(GUILD, Target::Role, 0, SEND_MESSAGES)];
        let member = guild.member(ALICE, &[MOD_ROLE], false);
        let in_text = guild.in_channel(&member, &guild.channel(&overwrites, true));
        let in_voice = guild.in_channel(&member, &guild.channel(&overwrites, false));
        assert_eq!(in_text & (MENTION_EVERYONE | EMBED_LINKS), 0);
        assert_ne!(in_voice & MENTION_EVERYONE, 0);
    }

    #[test]
    fn timed_out_members_keep_only_viewing_and_history() {
        let guild = guild();
        let channel = guild.channel(&[], true);
        let member = guild.member(ALICE, &[MOD_ROLE], true);
        assert_eq!(
            guild.in_channel(&member, &channel),
            VIEW_CHANNEL | READ_MESSAGE_HISTORY
        );
        assert_eq!(guild.base(&member), VIEW_CHANNEL | READ_MESSAGE_HISTORY);
    }

    #[test]
    fn unknown_roles_grant_nothing() {
        let guild = guild();
        let member = guild.member(ALICE, &[999, GUILD], false);
        assert!(member.roles.is_empty());
        let channel = guild.channel(&[overwrite(999, Target::Role, ALL, 0)], false);
        assert_eq!(guild.in_channel(&member, &channel), EVERYONE_PERMS);
    }

    #[test]
    fn high_bits_pass_through() {
        let pin_messages = 1 << 51;
        let future = 1 << 63;
        let guild = Guild::new(
            GUILD,
            OWNER,
            &[(GUILD, VIEW_CHANNEL | pin_messages | future)],
        )
        .unwrap();
        let member = guild.member(ALICE, &[], false);
        assert_eq!(
            guild.in_channel(&member, &guild.channel(&[], false)),
            VIEW_CHANNEL | pin_messages | future
        );
    }

    #[test]
    fn who_has_matches_one_by_one() {
        let guild = guild();
        let channel = guild.channel(
            &[
                overwrite(GUILD, Target::Role, 0, VIEW_CHANNEL),
                overwrite(MOD_ROLE, Target::Role, VIEW_CHANNEL, 0),
            ],
            true,
        );
        let members = vec![
            guild.member(ALICE, &[], false),
            guild.member(BOB, &[MOD_ROLE], false),
            guild.member(OWNER, &[], false),
        ];
        assert_eq!(
            guild.who_has(&members, &channel, VIEW_CHANNEL),
            vec![0, 1, 1]
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        assert_eq!(
            Guild::new(GUILD, OWNER, &[(MOD_ROLE, 0)]).unwrap_err(),
            PermissionsError::NoEveryoneRole { guild_id: GUILD }
        );
        assert_eq!(
            Guild::new(GUILD, OWNER, &[(GUILD, 0), (GUILD, 1)]).unwrap_err(),
            PermissionsError::DuplicateRole { role_id: GUILD }
        );
        assert_eq!(
            Target::from_discord(5, 2).unwrap_err().to_string(),
            "overwrite type 2 for 5 is neither 0 (role) nor 1 (member)"
        );
    }
}
