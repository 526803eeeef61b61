# The sweep: every few minutes Cloud Scheduler POSTs to the sweep function with an OIDC token
# of the scheduler account, and stalled jobs are queued again or given up
# (shared/pagesage/services/sweeper.py). Only that account may invoke the function.
resource "google_cloud_scheduler_job" "sweep" {
  project     = var.project_id
  region      = var.region
  name        = "pagesage-sweep"
  description = "Queue stalled PageSage jobs again, or give them up"
  schedule    = var.sweep_schedule
  time_zone   = "Etc/UTC"

  # A missed run is harmless: the next one sweeps the same jobs.
  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = "${local.public_url}/sweep"
    oidc_token {
      service_account_email = google_service_account.sa["scheduler"].email
      audience              = "${local.public_url}/sweep"
    }
  }

  depends_on = [google_project_service.apis]
}
