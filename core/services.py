"""Everything the API and the gateway call into, built once per process."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from core.access import AccessCache
from core.accounts import Accounts
from core.applications import Applications
from core.attachment_links import AttachmentLinks
from core.bus import Bus, InProcessBus, RedisBus
from core.channels import Channels
from core.commands import Commands
from core.delivery import Delivery
from core.direct import Direct
from core.guilds import Guilds
from core.interaction_followups import InteractionFollowups
from core.interaction_messages import ChannelReplies
from core.interaction_responses import InteractionResponses
from core.interactions import Interactions
from core.invites import Invites
from core.members import Members
from core.messages import Messages
from core.passwords import Passwords
from core.pins import Pins
from core.reactions import Reactions
from core.roles import Roles
from core.search import Search
from core.sessions import Sessions
from core.snowflakes import SnowflakeGenerator
from core.store.jwt_keys import load_jwt_keys
from core.store.objects import LocalObjectStore, ObjectStore
from core.store.ratelimits import MemoryRateLimits, RateLimits, RedisRateLimits
from core.store.revocations import (
    MemoryRevokedSessions,
    RedisRevokedSessions,
    RevokedSessions,
    recently_revoked,
)
from core.store.s3 import S3ObjectStore
from core.typing_indicator import Typing
from core.voice import Voice
from core.voice_moderation import VoiceModeration
from core.voice_states import open_voice_board
from core.webhooks import Webhooks

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from core.config import Settings
    from core.store.database import Database
    from core.store.migrations import Migration
    from core.store.redis import Redis


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    db: Database
    migrations: list[Migration]
    snowflakes: SnowflakeGenerator
    accounts: Accounts
    applications: Applications
    commands: Commands
    guilds: Guilds
    channels: Channels
    roles: Roles
    members: Members
    invites: Invites
    messages: Messages
    attachment_links: AttachmentLinks
    pins: Pins
    search: Search
    typing: Typing
    webhooks: Webhooks
    reactions: Reactions
    interactions: Interactions
    interaction_responses: InteractionResponses
    interaction_followups: InteractionFollowups
    direct: Direct
    rate_limits: RateLimits
    sessions: Sessions
    voice: Voice
    voice_moderation: VoiceModeration
    delivery: Delivery  # what the gateway reads to deliver events
    access: AccessCache
    bus: Bus  # committed events, from the relay to every gateway
    redis: Redis | None  # None: one process, everything shared in memory


@asynccontextmanager
async def open_object_store(settings: Settings) -> AsyncIterator[ObjectStore]:
    """The attachment store the settings name: the S3 bucket (created if missing) or files
    under the data dir."""
    if settings.s3 is None:
        yield LocalObjectStore(settings.data_dir / "objects")
        return
    async with httpx.AsyncClient(timeout=settings.db_timeout_s) as client:
        store = S3ObjectStore(settings.s3, client)
        await store.ensure_bucket()
        yield store


async def build_services(
    settings: Settings,
    db: Database,
    migrations: list[Migration],
    objects: ObjectStore,
    redis: Redis | None = None,
) -> Services:
    """Loads keys and recent revocations, and wires the services together. With `redis`,
    rate limits and revocations are shared with every other process using it."""
    snowflakes = SnowflakeGenerator(settings.worker_id, settings.process_id)
    revoked: RevokedSessions = RedisRevokedSessions(redis) if redis else MemoryRevokedSessions()
    await revoked.revoke(await recently_revoked(db))
    access = AccessCache()  # shared by every service of this process
    accounts = Accounts(settings, db, load_jwt_keys(settings), revoked, Passwords(), snowflakes)
    applications = Applications(db, snowflakes)
    links = AttachmentLinks(db, objects, accounts.keys, settings.public_url)
    messages = Messages(db, snowflakes, access, objects, links, settings.max_upload_bytes)
    bus: Bus = RedisBus(redis) if redis else InProcessBus()
    voice = Voice(db, access, bus, open_voice_board(redis), accounts.keys)
    moderation = VoiceModeration(db, access, voice)
    return Services(
        settings=settings,
        db=db,
        migrations=migrations,
        snowflakes=snowflakes,
        accounts=accounts,
        applications=applications,
        commands=Commands(db, snowflakes, access),
        guilds=Guilds(db, snowflakes, access, moderation),
        channels=Channels(db, snowflakes, access, moderation),
        roles=Roles(db, snowflakes, access, moderation),
        members=Members(db, snowflakes, access, moderation),
        invites=Invites(db, snowflakes, access),
        direct=Direct(db, snowflakes),
        messages=messages,
        attachment_links=links,
        pins=Pins(db, snowflakes, access, messages.link),
        search=Search(db, access, messages.link),
        typing=Typing(db, snowflakes, access),
        webhooks=Webhooks(db, snowflakes, access, accounts.keys, messages, settings.public_url),
        reactions=Reactions(db, snowflakes, access),
        interactions=Interactions(db, snowflakes, access, messages, accounts.keys),
        interaction_responses=InteractionResponses(
            db, snowflakes, ChannelReplies(messages, settings.max_upload_bytes)
        ),
        interaction_followups=InteractionFollowups(
            db, snowflakes, ChannelReplies(messages, settings.max_upload_bytes)
        ),
        rate_limits=RedisRateLimits(redis) if redis else MemoryRateLimits(),
        sessions=Sessions(db, access, accounts, applications),
        voice=voice,
        voice_moderation=moderation,
        delivery=Delivery(db, access),
        access=access,
        bus=bus,
        redis=redis,
    )
