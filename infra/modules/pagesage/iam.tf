# Identities and their grants. infra/README.md has the table of every binding and its reason.

resource "google_service_account" "sa" {
  for_each = local.service_accounts

  project      = var.project_id
  account_id   = "pagesage-${each.key}"
  display_name = each.value

  depends_on = [google_project_service.apis]
}

# Roles that only exist at project level (Firestore data access, Document AI calls, event
# receipt, build logs and images); see local.project_roles.
resource "google_project_iam_member" "sa" {
  for_each = local.project_role_bindings

  project = var.project_id
  role    = each.value.role
  member  = "serviceAccount:${google_service_account.sa[each.value.account].email}"
}

# Cloud Storage publishes its events to Pub/Sub for Eventarc; its service agent needs
# roles/pubsub.publisher (google_cloudfunctions2_function documentation, GCS trigger example).
data "google_storage_project_service_account" "gcs" {
  project = var.project_id
}

resource "google_project_iam_member" "gcs_pubsub_publisher" {
  project = var.project_id
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
}

# --- The bucket ----------------------------------------------------------------------------

# Read, write and delete objects (originals, pages, results, drops); no bucket administration.
resource "google_storage_bucket_iam_member" "data" {
  for_each = toset(["runtime", "worker"])

  bucket = google_storage_bucket.data.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.sa[each.key].email}"
}

# Cloud Build reads the function sources it builds.
resource "google_storage_bucket_iam_member" "build_sources" {
  bucket = google_storage_bucket.sources.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.sa["build"].email}"
}

# --- The queue -----------------------------------------------------------------------------

# upload and ocr_bucket_drop enqueue "prepare" tasks; the worker enqueues one task per page.
resource "google_cloud_tasks_queue_iam_member" "enqueuer" {
  for_each = toset(["runtime", "worker"])

  project  = var.project_id
  location = google_cloud_tasks_queue.ocr.location
  name     = google_cloud_tasks_queue.ocr.name
  role     = "roles/cloudtasks.enqueuer"
  member   = "serviceAccount:${google_service_account.sa[each.key].email}"
}

# A task carrying an OIDC token of the tasks account can only be created by a caller that may
# act as that account (https://cloud.google.com/tasks/docs/creating-http-target-tasks).
resource "google_service_account_iam_member" "enqueuer_acts_as_tasks" {
  for_each = toset(["runtime", "worker"])

  service_account_id = google_service_account.sa["tasks"].name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.sa[each.key].email}"
}

# --- Tesseract -----------------------------------------------------------------------------

# The worker OCRs through it; upload and the bucket drop read its /health for the model list.
resource "google_cloud_run_v2_service_iam_member" "tesseract_invoker" {
  for_each = toset(["runtime", "worker"])
  project  = var.project_id
  location = google_cloud_run_v2_service.tesseract.location
  name     = google_cloud_run_v2_service.tesseract.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.sa[each.key].email}"
}

# --- The deployer --------------------------------------------------------------------------

# Deploying a function, trigger, build or service that runs as an account requires
# iam.serviceAccounts.actAs on it; the deployer never runs as the tasks account.
resource "google_service_account_iam_member" "deployer_acts_as" {
  for_each = var.deployer_service_account == null ? toset([]) : toset(["runtime", "worker", "eventarc", "build", "tesseract", "scheduler"])

  service_account_id = google_service_account.sa[each.key].name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${var.deployer_service_account}"
}
