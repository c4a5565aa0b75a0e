"""Reading an uploaded picture or video: a multipart form field `file`, or the raw body.
The size limit is enforced while reading (rempart.api.limits)."""

from __future__ import annotations

from fastapi import HTTPException, Request
from starlette.datastructures import UploadFile


async def read_upload(request: Request) -> tuple[bytes, str]:
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=1, max_fields=8)
        except HTTPException:
            raise
        except Exception as exc:
            raise HTTPException(400, f"malformed multipart form ({exc})") from exc
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise HTTPException(422, "the form needs a file field named 'file'")
        data = await upload.read()
        return data, upload.filename or "upload"
    return await request.body(), "upload"
