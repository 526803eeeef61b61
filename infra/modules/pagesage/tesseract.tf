resource "google_artifact_registry_repository" "images" {
  # checkov:skip=CKV_GCP_84: the image is built from public sources; Google-managed encryption is enough
  project       = var.project_id
  location      = var.region
  repository_id = "pagesage"
  description   = "PageSage container images"
  format        = "DOCKER"
  labels        = local.labels

  cleanup_policy_dry_run = false

  # KEEP wins over DELETE: the ten newest images stay, whatever their age.
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 10
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      tag_state  = "ANY"
      older_than = "2592000s" # 30 days
    }
  }

  depends_on = [google_project_service.apis]
}

# Tesseract over HTTP (containers/tesseract), called by the worker with an ID token.
resource "google_cloud_run_v2_service" "tesseract" {
  project  = var.project_id
  name     = "pagesage-tesseract"
  location = var.region
  labels   = local.labels

  # Requests from Cloud Functions reach "internal" services only through a VPC connector
  # (https://cloud.google.com/run/docs/securing/ingress), so ingress stays open and IAM keeps
  # the service private: only the worker's account holds roles/run.invoker.
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = var.deletion_protection

  template {
    service_account                  = google_service_account.sa["tesseract"].email
    max_instance_request_concurrency = var.tesseract.concurrency
    timeout                          = "${var.tesseract.timeout_seconds}s"

    scaling {
      min_instance_count = 0
      max_instance_count = var.tesseract.max_instances
    }

    containers {
      image = var.tesseract_image

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = var.tesseract.cpu
          memory = var.tesseract.memory
        }
      }

      # Cloud Run answers paths ending in "z" itself, so not /healthz
      # (https://cloud.google.com/run/docs/known-issues).
      startup_probe {
        http_get {
          path = "/health"
        }
      }
    }
  }

  depends_on = [google_project_service.apis]
}
