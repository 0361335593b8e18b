"""A user's "Export my data" jobs: built in the background, fetched by their owner only."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from chat_app.models.users import User


class ExportState(StrEnum):
    """Where a job is: waiting or being built, ready to download, or failed."""

    RUNNING = "running"
    READY = "ready"
    FAILED = "failed"


class DataExport(Model):
    """One ZIP of a user's data, and how far its build is.

    ``done`` and ``total`` count the rows written (the progress). ``file_name`` is its name in
    CHAT_EXPORT_DIR, random so that it cannot be guessed there."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "chat.User", related_name="data_exports", on_delete=fields.CASCADE
    )
    state = fields.CharEnumField(ExportState, max_length=16, default=ExportState.RUNNING)
    done = fields.IntField(default=0)
    total = fields.IntField(default=0)
    file_name = fields.CharField(max_length=100, default="")
    size = fields.BigIntField(default=0)
    error = fields.CharField(max_length=255, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    expires_at = fields.DatetimeField(null=True)

    user_id: int

    class Meta:
        table = "data_exports"
        indexes = (("user_id",),)

    @property
    def percent(self) -> int:
        """How far the build is, 0 to 100."""
        return 100 if self.total <= 0 else min(100, self.done * 100 // self.total)

    def downloadable(self, now: datetime | None = None) -> bool:
        """Whether its file may still be fetched."""
        moment = now or datetime.now(UTC)
        return self.state == ExportState.READY and (
            self.expires_at is not None and self.expires_at > moment
        )


async def latest_export(user_id: int) -> DataExport | None:
    """The user's newest export job, or None."""
    return await DataExport.filter(user_id=user_id).order_by("-id").first()


async def export_of(user_id: int, export_id: int) -> DataExport | None:
    """Export ``export_id`` if it is ``user_id``'s (anyone else's does not exist: 404)."""
    return await DataExport.get_or_none(id=export_id, user_id=user_id)
