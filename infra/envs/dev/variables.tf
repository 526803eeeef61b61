variable "project_id" {
  description = "Google Cloud project of this environment."
  type        = string
}

variable "region" {
  description = "Region of the functions, bucket, queue and Tesseract service."
  type        = string
}

variable "firestore_location" {
  description = "Firestore location (a region, or nam5 / eur3)."
  type        = string
}

variable "documentai_location" {
  description = "Document AI location: us or eu."
  type        = string
}

variable "tesseract_image" {
  description = "Tesseract container image, pinned by digest; cloudbuild.yaml passes the one it built."
  type        = string
}

variable "max_instances" {
  description = "Max instance counts by function entry point, overriding the module's defaults."
  type        = map(number)
  default     = {}
}

variable "deletion_protection" {
  description = "Protect the Firestore database and the Tesseract service from deletion."
  type        = bool
}

variable "deployer_service_account" {
  description = "Email of the service account Cloud Build deploys with (infra/README.md, bootstrap)."
  type        = string
  default     = null
}

variable "operators" {
  description = "IAM principals allowed to call the costs function (e.g. group:pagesage-ops@example.com)."
  type        = list(string)
  default     = []
}
