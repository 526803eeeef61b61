"""`upload` (HTTP, POST): multipart upload of one scan in the field `file`, optional `lang`.

Answers 202 with `{job_id, status: "pending", message}`; errors per pagesage.web.
"""

import functions_framework

from pagesage import web
from pagesage.responses import UploadResponse
from pagesage.services.submit import submit_document


@functions_framework.http
@web.endpoint("POST")
def upload(request, services):
    """Store the file, create its job and queue it."""
    file, lang = web.read_upload(request, services.settings.max_upload_bytes)
    job = submit_document(
        file.stream,
        file_name=file.filename,
        declared_type=file.content_type,
        languages=lang,
        installed_languages=services.engine.installed_languages(),
        max_bytes=services.settings.max_upload_bytes,
        store=services.store,
        blobs=services.blobs,
        queue=services.queue,
        work_dir=services.settings.work_dir,
    )
    return web.json_response(UploadResponse(job_id=job.job_id, status=job.status), 202)
