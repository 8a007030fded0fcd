"""A message a bot sends or edits through an interaction's token: checked as Discord checks
an interaction response's data, before anything is written. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from core.domain.attachments import check_uploads
from core.domain.components import check_components
from core.domain.messages import MessageFlag, check_allowed_mentions, check_flags, check_message
from core.errors import FormCheck

if TYPE_CHECKING:
    from core.domain.attachments import Upload
    from core.domain.messages import AllowedMentions

LOADING = MessageFlag.LOADING  # a deferred answer's "thinking" message
# What an interaction's answer may carry: EPHEMERAL only there.
REPLY_FLAGS = (
    MessageFlag.SUPPRESS_EMBEDS | MessageFlag.EPHEMERAL | MessageFlag.SUPPRESS_NOTIFICATIONS
)


@dataclass(frozen=True, slots=True)
class Reply:
    """On an edit only the fields named in `given` change."""

    content: str | None = None
    embeds: list[dict[str, object]] | None = None
    components: list[dict[str, object]] | None = None
    flags: int | None = None
    allowed_mentions: AllowedMentions | None = None
    given: frozenset[str] = field(default_factory=frozenset)
    uploads: tuple[Upload, ...] = ()  # files, for a new message everyone sees

    def checked(
        self, *, needs_body: bool, takes_files: bool = True, max_upload_bytes: int | None = None
    ) -> Reply:
        """This reply with its components as stored; InvalidForm (50035) for every problem.
        Files go with new channel messages only: not (yet) with ephemeral ones or edits.
        `max_upload_bytes` given: the files are checked too (a callback must know before it
        is claimed that its message will post)."""
        check = FormCheck()
        body = needs_body and not self.components and not self.uploads
        check_message(check, self.content, self.embeds, needs_body=body)
        if self.uploads and (self.ephemeral or not takes_files):
            check.fail("files", "UNSUPPORTED", "Files go with new, non-ephemeral messages only.")
        elif self.uploads and max_upload_bytes is not None:
            check_uploads(check, list(self.uploads), max_upload_bytes)
        if self.flags is not None:
            check_flags(check, self.flags, REPLY_FLAGS)
        if self.allowed_mentions is not None:
            check_allowed_mentions(check, self.allowed_mentions)
        components = None if self.components is None else check_components(check, self.components)
        check.done()
        return replace(self, components=components)

    @property
    def ephemeral(self) -> bool:
        return bool((self.flags or 0) & MessageFlag.EPHEMERAL)
