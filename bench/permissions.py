"""Permission resolution: one member from Python, and "who can view this channel" in bulk.

Usage: python -m bench.permissions [--seconds S]

Guilds of 1,000 and 10,000 members with 50 roles (each member holding 0 to 6 of them) and a
channel with 20 overwrites; each figure beside the plain Python reference (tests/native)
measured in the same run. The native answers are checked against the reference first.
"""

from __future__ import annotations

import argparse
import random
import time
from functools import partial
from typing import TYPE_CHECKING

from core.domain.permissions import GuildPermissions, Permission
from tests.native.permissions_reference import reference_mask, reference_permissions

if TYPE_CHECKING:
    from collections.abc import Callable

GUILD, OWNER = 1 << 40, 7
ROLE_COUNT, OVERWRITE_COUNT = 50, 20


def build(
    member_count: int, rng: random.Random
) -> tuple[dict[int, int], list[tuple[int, list[int], bool]], list[tuple[int, int, int, int]]]:
    role_ids = [GUILD + 1 + i for i in range(ROLE_COUNT)]
    roles = {GUILD: int(Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES)}
    for role_id in role_ids:
        roles[role_id] = rng.getrandbits(53) & ~int(Permission.ADMINISTRATOR)
    members = [
        (1000 + i, rng.sample(role_ids, rng.randint(0, 6)), rng.random() < 0.01)
        for i in range(member_count)
    ]
    overwrites = [(GUILD, 0, 0, int(Permission.VIEW_CHANNEL))]
    for role_id in rng.sample(role_ids, OVERWRITE_COUNT - 3):
        overwrites.append((role_id, 0, rng.getrandbits(53), rng.getrandbits(53)))
    for user_id, _, _ in rng.sample(members, 2):
        overwrites.append((user_id, 1, int(Permission.VIEW_CHANNEL), 0))
    return roles, members, overwrites


class PlainLoop:
    """A plain Python loop over members, with the channel prepared once as the native engine
    prepares it: the fair Python yardstick for the bulk call (the reference is written for
    clarity, not speed)."""

    def __init__(self, roles: dict[int, int], overwrites: list[tuple[int, int, int, int]]) -> None:
        self.roles = roles
        self.everyone_allow = self.everyone_deny = 0
        self.role_overwrites: dict[int, tuple[int, int]] = {}
        self.member_overwrites: dict[int, tuple[int, int]] = {}
        for target, kind, allow, deny in overwrites:
            if kind == 0 and target == GUILD:
                self.everyone_allow |= allow
                self.everyone_deny |= deny
            elif kind == 0:
                a, d = self.role_overwrites.get(target, (0, 0))
                self.role_overwrites[target] = (a | allow, d | deny)
            else:
                a, d = self.member_overwrites.get(target, (0, 0))
                self.member_overwrites[target] = (a | allow, d | deny)

    def mask(self, members: list[tuple[int, list[int], bool]], wanted: int) -> bytes:
        # Plain ints: IntFlag operators are far slower than int ones.
        send, view = int(Permission.SEND_MESSAGES), int(Permission.VIEW_CHANNEL)
        administrator = int(Permission.ADMINISTRATOR)
        needs_send = int(
            Permission.MENTION_EVERYONE
            | Permission.SEND_TTS_MESSAGES
            | Permission.ATTACH_FILES
            | Permission.EMBED_LINKS
        )
        keeps = view | int(Permission.READ_MESSAGE_HISTORY)
        out = bytearray(len(members))
        for index, (user_id, role_ids, timed_out) in enumerate(members):
            if user_id == OWNER:
                out[index] = 1
                continue
            permissions = self.roles[GUILD]
            for role in role_ids:
                permissions |= self.roles.get(role, 0)
            if permissions & administrator:
                out[index] = 1
                continue
            permissions = (permissions & ~self.everyone_deny) | self.everyone_allow
            allow = deny = 0
            for role in role_ids:
                a, d = self.role_overwrites.get(role, (0, 0))
                allow |= a
                deny |= d
            permissions = (permissions & ~deny) | allow
            a, d = self.member_overwrites.get(user_id, (0, 0))
            permissions = (permissions & ~d) | a
            if not permissions & view:
                continue
            if not permissions & send:
                permissions &= ~needs_send
            if timed_out:
                permissions &= keeps
            out[index] = permissions & wanted == wanted
        return bytes(out)


def best_of(seconds: float, run: Callable[[], object]) -> float:
    """The fastest of repeated runs, in seconds: the least disturbed measurement."""
    best = float("inf")
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    seconds = parser.parse_args().seconds
    rng = random.Random(20261121)
    view = int(Permission.VIEW_CHANNEL)
    lines = []

    roles, members, overwrites = build(1_000, rng)
    guild = GuildPermissions(GUILD, OWNER, list(roles.items()))
    user_id, role_ids, timed_out = members[0]
    single_runs = 10_000

    channel = guild.channel(overwrites, text=True)

    def one_native() -> None:
        for _ in range(single_runs):
            guild.resolve(user_id, role_ids, timed_out=timed_out, channel=channel)

    def one_reference() -> None:
        for _ in range(single_runs // 10):
            reference_permissions(
                guild_id=GUILD, owner_id=OWNER, roles=roles, user_id=user_id, role_ids=role_ids,
                timed_out=timed_out, overwrites=overwrites, text=True,
            )  # fmt: skip

    native_ns = best_of(seconds, one_native) / single_runs * 1e9
    reference_ns = best_of(seconds, one_reference) / (single_runs // 10) * 1e9
    lines.append(
        f"one member, 20 overwrites: native {native_ns:.0f} ns, reference {reference_ns:.0f} ns"
        f" ({reference_ns / native_ns:.0f}x)"
    )

    for count in (1_000, 10_000):
        roles, members, overwrites = build(count, rng)
        guild = GuildPermissions(GUILD, OWNER, list(roles.items()))
        snapshot = guild.members(members)
        channel = guild.channel(overwrites, text=True)
        loop = PlainLoop(roles, overwrites)

        reference = partial(
            reference_mask,
            guild_id=GUILD,
            owner_id=OWNER,
            roles=roles,
            members=members,
            overwrites=overwrites,
            text=True,
            wanted=view,
        )

        native_mask = snapshot.who_has(view, channel)
        plain_mask = loop.mask(members, view)
        assert native_mask == reference() == plain_mask, "implementations disagree"
        viewers = sum(native_mask)
        native_s = best_of(seconds, partial(snapshot.who_has, view, channel))
        loop_s = best_of(seconds, partial(loop.mask, members, view))
        reference_s = best_of(seconds, reference)
        lines.append(
            f"who can view, {count} members: native {native_s * 1e6:.1f} us"
            f" ({native_s / count * 1e9:.0f} ns/member); plain Python loop {loop_s * 1e6:.0f} us"
            f" ({loop_s / count * 1e6:.2f} us/member, {loop_s / native_s:.0f}x);"
            f" reference {reference_s / count * 1e6:.1f} us/member ({reference_s / native_s:.0f}x);"
            f" {viewers} can view"
        )
    print("permissions: " + " | ".join(lines))


if __name__ == "__main__":
    main()
