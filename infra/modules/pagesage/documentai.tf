# Enterprise Document OCR, an alternative engine to Tesseract.
resource "google_document_ai_processor" "ocr" {
  # checkov:skip=CKV2_GCP_22: no customer-managed keys in this deployment (Google-managed encryption)
  project      = var.project_id
  location     = var.documentai_location
  display_name = "pagesage-ocr-${var.env}"
  type         = "OCR_PROCESSOR"

  depends_on = [google_project_service.apis]
}
