"""Request bodies: at most CHAT_MAX_CONTENT_LENGTH (1 MiB) everywhere, except on the few
routes that take files, which take one upload's worth within a longer timeout.

Quart fixes a request's body limit when it makes the request, before routing and before the
CSRF check reads a form, so the routes are told apart here by method, path and a multipart
body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from quart import Request
from werkzeug.datastructures import Headers

# Uploads (script and API), the composer's plain form (files without script), the avatar.
UPLOAD_PATHS = re.compile(
    r"^/((api/v1/)?rooms/[^/]+/attachments|rooms/[^/]+/messages|settings/profile)$"
)
FORM_SLACK = 64 * 1024  # the form's other fields and the multipart framing


def carries_files(method: str, path: str, content_type: str) -> bool:
    """Whether a request may carry files: a multipart POST to an upload route (a plain form
    post to the same route keeps the 1 MiB limit)."""
    return (
        method == "POST"
        and bool(UPLOAD_PATHS.match(path))
        and content_type.startswith("multipart/form-data")
    )


def upload_request_class(config: Mapping[str, Any]) -> type[Request]:
    """Quart's request class, with the upload limits of ``config`` (the app's, read at each
    request) on the upload routes."""

    class UploadRequest(Request):
        def __init__(
            self,
            method: str,
            scheme: str,
            path: str,
            query_string: bytes,
            headers: Headers,
            *args: Any,
            **kw: Any,
        ) -> None:
            uploading = carries_files(method, path, headers.get("Content-Type", ""))
            limit = config["UPLOAD_MAX_BYTES"] + FORM_SLACK
            if uploading:
                kw["max_content_length"] = limit
                kw["body_timeout"] = config["UPLOAD_TIMEOUT_SECONDS"]
            super().__init__(method, scheme, path, query_string, headers, *args, **kw)
            if uploading:
                self.max_content_length = limit  # what the form parser reads

    return UploadRequest
