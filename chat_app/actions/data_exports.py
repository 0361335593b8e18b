""" "Export my data": a job row with its progress, a ZIP built in the background, expiry."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from quart import current_app

from chat_app import exports
from chat_app.models import DataExport, User
from chat_app.models.data_exports import ExportState

log = logging.getLogger(__name__)

# A job whose row has not moved for this long was cut off (its server stopped): it counts as
# failed, and a new one may start.
STALE_AFTER = timedelta(minutes=10)
FAILED_TEXT = "The export could not be finished. Start it again."


def export_dir() -> Path:
    """The folder the ZIP files are built in (CHAT_EXPORT_DIR)."""
    return Path(current_app.config["EXPORT_DIR"])


def export_path(job: DataExport) -> Path:
    """Where a finished job's file is."""
    return export_dir() / job.file_name


def is_stale(job: DataExport, now: datetime | None = None) -> bool:
    """Whether a running job has stopped moving (see STALE_AFTER)."""
    moment = now or datetime.now(UTC)
    return job.state == ExportState.RUNNING and job.updated_at < moment - STALE_AFTER


async def start_export(user: User) -> DataExport:
    """A new export of ``user``'s data, built in the background (the app's task); while one
    is being built, that one. Starting one discards the previous file: one at a time."""
    running = await DataExport.filter(user_id=user.id, state=ExportState.RUNNING).first()
    if running is not None and not is_stale(running):
        return running
    await discard_exports(user.id)
    job = await DataExport.create(user_id=user.id, total=await exports.archive_rows(user.id))
    current_app.add_background_task(build_export, job.id)
    return job


async def build_export(job_id: int, batch_size: int = 1000) -> DataExport:
    """Build job ``job_id``'s ZIP, moving its progress each batch; ready for
    CHAT_EXPORT_HOURS. A failure is logged and the job says so (its partial file goes)."""
    job = await DataExport.get(id=job_id).select_related("user")
    folder = export_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{job.id}-{secrets.token_hex(16)}.zip"
    partial = folder / f"{name}.part"
    try:
        async for rows in exports.user_archive(job.user, partial, batch_size):
            job.done += rows
            await DataExport.filter(id=job.id).update(done=job.done, updated_at=datetime.now(UTC))
        partial.rename(folder / name)
    except Exception:
        log.exception("export %s failed", job.id)
        partial.unlink(missing_ok=True)
        job.state, job.error = ExportState.FAILED, FAILED_TEXT
        await job.save(update_fields=["state", "error", "updated_at"])
        return job
    job.state, job.file_name, job.size = ExportState.READY, name, (folder / name).stat().st_size
    job.total = max(job.total, job.done)
    job.expires_at = datetime.now(UTC) + timedelta(hours=current_app.config["EXPORT_HOURS"])
    kept = await DataExport.filter(id=job.id).update(
        state=job.state,
        file_name=name,
        size=job.size,
        total=job.total,
        expires_at=job.expires_at,
    )
    if not kept:  # the account was deleted meanwhile: its export goes too
        (folder / name).unlink(missing_ok=True)
    return job


async def _forget(jobs: list[DataExport]) -> int:
    for job in jobs:
        if job.file_name:
            export_path(job).unlink(missing_ok=True)
    if jobs:
        await DataExport.filter(id__in=[job.id for job in jobs]).delete()
    return len(jobs)


async def discard_exports(user_id: int) -> int:
    """Delete every export of ``user_id`` that is not being built, files and rows; how many."""
    jobs = await DataExport.filter(user_id=user_id).all()
    return await _forget([job for job in jobs if job.state != ExportState.RUNNING or is_stale(job)])


async def prune_exports(now: datetime | None = None) -> int:
    """Delete expired exports, failed ones and ones cut off (files and rows); how many."""
    moment = now or datetime.now(UTC)
    jobs = await DataExport.all()
    done_with = [
        job
        for job in jobs
        if job.state == ExportState.FAILED
        or is_stale(job, moment)
        or (job.state == ExportState.READY and not job.downloadable(moment))
    ]
    return await _forget(done_with)
