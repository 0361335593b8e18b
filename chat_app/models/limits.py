"""Token buckets kept in PostgreSQL when several workers share the database (see
chat_app/ratelimits.py); one row per bucket, deleted once it is full again."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class RateBucket(Model):
    """One token bucket: what is left and when (database clock, seconds since the epoch)."""

    key = fields.CharField(max_length=255, primary_key=True)
    tokens = fields.FloatField()
    updated = fields.FloatField()
    full_at = fields.FloatField()  # when it will be full again: from then on it can go

    class Meta:
        table = "rate_buckets"
        indexes = (("full_at",),)
