# The OCR queue: upload and ocr_bucket_drop enqueue "prepare" tasks, the worker enqueues one
# "ocr_page" task per page; Cloud Tasks POSTs each to <public URL>/ocr with an OIDC token of
# the tasks service account.
resource "google_cloud_tasks_queue" "ocr" {
  project  = var.project_id
  name     = var.tasks_queue_name
  location = var.region

  rate_limits {
    max_dispatches_per_second = var.queue.max_dispatches_per_second
    max_concurrent_dispatches = local.worker_capacity
  }

  # The worker answers 503 for a task that should be delivered again and 204 once a task is
  # done or has failed for good; its use cases are idempotent, so redelivery is safe.
  # A task stops being retried once it is older than max_retry_duration AND has been tried
  # max_attempts times (google_cloud_tasks_queue documentation).
  retry_config {
    max_attempts       = var.queue.max_attempts
    min_backoff        = "${var.queue.min_backoff_seconds}s"
    max_backoff        = "${var.queue.max_backoff_seconds}s"
    max_doublings      = var.queue.max_doublings
    max_retry_duration = "${var.queue.max_retry_duration_seconds}s"
  }

  depends_on = [google_project_service.apis]
}
