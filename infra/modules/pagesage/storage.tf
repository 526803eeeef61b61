# PAGESAGE_BUCKET: one bucket for every blob the code reads and writes (pagesage.ports.BlobStore
# keys): incoming/ (bucket drops, copied to originals/ by ocr_bucket_drop), originals/<job>/,
# pages/<job>/, raw/<job>/ (engine output) and results/<job>/.
resource "google_storage_bucket" "data" {
  # checkov:skip=CKV_GCP_62: transient job data; Cloud Audit Logs record access, a usage-log bucket would add nothing
  # checkov:skip=CKV_GCP_78: objects are written once and expire within days; noncurrent versions would only outlive them
  project  = var.project_id
  name     = "${var.project_id}-pagesage-data"
  location = var.region # a storage trigger must be in the bucket's location
  labels   = local.labels

  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection

  # Everything here is transient; soft-deleted copies would be billed for 7 more days.
  soft_delete_policy {
    retention_duration_seconds = 0
  }

  # Results are served for 48 hours after a job finishes (README); they are written when it
  # finishes, so 2 days after their creation they belong to expired jobs.
  lifecycle_rule {
    condition {
      age            = var.results_retention_days
      matches_prefix = ["results/"]
    }
    action {
      type = "Delete"
    }
  }

  # Firestore TTL removes expired jobs, not their blobs.
  lifecycle_rule {
    condition {
      age            = var.work_retention_days
      matches_prefix = ["originals/", "pages/", "raw/"]
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age            = var.incoming_retention_days
      matches_prefix = ["incoming/"]
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.apis]
}

# The zipped sources of the functions (infra/package_functions.py); Cloud Functions builds
# them from here.
resource "google_storage_bucket" "sources" {
  # checkov:skip=CKV_GCP_62: build inputs, reproducible from the repository
  # checkov:skip=CKV_GCP_78: every source version is its own object, named after its MD5
  project  = var.project_id
  name     = "${var.project_id}-pagesage-sources"
  location = var.region
  labels   = local.labels

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  depends_on = [google_project_service.apis]
}

# Named after the zip's MD5, so a changed source is a new object and the functions that use
# it are redeployed; an unchanged one changes nothing.
resource "google_storage_bucket_object" "function_source" {
  for_each = local.function_dirs

  bucket       = google_storage_bucket.sources.name
  name         = "functions/${each.key}-${filemd5("${var.function_source_dir}/${each.key}.zip")}.zip"
  source       = "${var.function_source_dir}/${each.key}.zip"
  content_type = "application/zip"

  # The function moves to the new object before the old one is deleted.
  lifecycle {
    create_before_destroy = true
  }
}
