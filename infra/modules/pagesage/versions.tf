terraform {
  # Optional object attributes with defaults (variable "functions") need Terraform >= 1.3;
  # the environments pin >= 1.6.
  required_version = ">= 1.6"

  required_providers {
    google = {
      source = "hashicorp/google"
      # 6.0 added `deletion_protection` to google_cloud_run_v2_service (6.0.0 changelog).
      version = ">= 6.0, < 7.0"
    }
  }
}
