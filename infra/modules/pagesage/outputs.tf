output "public_url" {
  description = "Base URL of the functions (PAGESAGE_PUBLIC_URL); clients use <it>/upload, /status, /result."
  value       = local.public_url
}

output "function_urls" {
  description = "URL of each function, by entry point."
  value       = { for name, fn in google_cloudfunctions2_function.fn : name => fn.url }
}

output "bucket" {
  description = "PAGESAGE_BUCKET; drop scans under incoming/ to OCR them."
  value       = google_storage_bucket.data.name
}

output "tasks_queue" {
  description = "Cloud Tasks queue id."
  value       = google_cloud_tasks_queue.ocr.id
}

output "tesseract_url" {
  description = "URL of the private Tesseract service."
  value       = google_cloud_run_v2_service.tesseract.uri
}

# Depends on the repository alone, so a targeted apply of it also updates this output
# (cloudbuild.yaml reads it before the image exists).
output "image_repository" {
  description = "Artifact Registry path images are pushed to."
  value       = "${google_artifact_registry_repository.images.location}-docker.pkg.dev/${google_artifact_registry_repository.images.project}/${google_artifact_registry_repository.images.repository_id}"
}

output "documentai_processor" {
  description = "Resource name of the Document AI OCR processor."
  value       = google_document_ai_processor.ocr.id
}

output "service_accounts" {
  description = "Email of each service account, by role."
  value       = { for key, sa in google_service_account.sa : key => sa.email }
}
