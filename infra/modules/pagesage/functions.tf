locals {
  # Settings of every function (shared/pagesage/config.py).
  function_env = {
    PAGESAGE_BACKEND               = "gcp"
    GOOGLE_CLOUD_PROJECT           = var.project_id
    PAGESAGE_FIRESTORE_DATABASE    = google_firestore_database.main.name
    PAGESAGE_BUCKET                = google_storage_bucket.data.name
    PAGESAGE_TASKS_QUEUE           = google_cloud_tasks_queue.ocr.name
    PAGESAGE_TASKS_LOCATION        = google_cloud_tasks_queue.ocr.location
    PAGESAGE_TASKS_SERVICE_ACCOUNT = google_service_account.sa["tasks"].email
    PAGESAGE_PUBLIC_URL            = local.public_url
    # Behind Google's front end the socket peer is the proxy, not the client: the per-IP rate
    # limit reads the client from X-Forwarded-For, as many entries from the right as there are
    # proxies that append to it (entries further left are the client's own and can be forged).
    PAGESAGE_TRUSTED_PROXY_HOPS = tostring(var.trusted_proxy_hops)
    # The worker OCRs through the container; upload asks it which models it has (GET /health).
    PAGESAGE_TESSERACT_URL      = google_cloud_run_v2_service.tesseract.uri
    PAGESAGE_TESSERACT_AUDIENCE = google_cloud_run_v2_service.tesseract.uri
    PAGESAGE_TASK_MAX_ATTEMPTS  = tostring(var.queue.max_attempts)
    # Remote sources: hosts admitted beyond the public https internet (docs/remote-sources.md).
    PAGESAGE_FETCH_ALLOW_HOSTS = join(",", var.fetch_allow_hosts)
  }

  # Who edits the book layer: IAP's signed header, or a Google ID token of this audience
  # (shared/pagesage/identity.py); with neither, edits are refused (production has no local user).
  identity_env = { for name, value in {
    PAGESAGE_IAP_AUDIENCE      = var.iap_audience
    PAGESAGE_ID_TOKEN_AUDIENCE = var.id_token_audience
  } : name => value if value != null }

  # The engine only the worker calls.
  worker_env = {
    PAGESAGE_DOCUMENTAI_PROCESSOR = google_document_ai_processor.ocr.id
  }

  invoker_members = {
    public    = "allUsers"
    tasks     = "serviceAccount:${google_service_account.sa["tasks"].email}"
    eventarc  = "serviceAccount:${google_service_account.sa["eventarc"].email}"
    scheduler = "serviceAccount:${google_service_account.sa["scheduler"].email}"
  }

  # One roles/run.invoker binding per function and member: the invoker's member, keyed by the
  # function; for "operators" functions one per principal of var.operators (none when empty),
  # keyed "<function>/<principal>".
  function_invoker_bindings = merge(
    { for name, f in local.functions : name => { function = name, member = local.invoker_members[f.invoker] } if f.invoker != "operators" },
    { for pair in setproduct([for name, f in local.functions : name if f.invoker == "operators"], var.operators) :
    "${pair[0]}/${pair[1]}" => { function = pair[0], member = pair[1] } },
  )
}

resource "google_cloudfunctions2_function" "fn" {
  # checkov:skip=CKV_GCP_124: upload, status and result are the public API and costs is called by operators from outside the project (IAM admits only them); the other functions are internal-only
  for_each = local.functions

  project  = var.project_id
  name     = each.value.name
  location = var.region
  labels   = local.labels

  build_config {
    runtime         = var.python_runtime
    entry_point     = each.key
    service_account = google_service_account.sa["build"].id
    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.function_source[each.value.dir].name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.sa[each.value.identity].email
    available_memory                 = each.value.memory
    available_cpu                    = each.value.cpu
    timeout_seconds                  = each.value.timeout
    max_instance_request_concurrency = each.value.concurrency
    min_instance_count               = 0
    max_instance_count               = each.value.max_instances
    # Cloud Tasks and Eventarc in the same project count as internal traffic
    # (https://cloud.google.com/run/docs/securing/ingress); operators call from outside, and
    # IAM admits only them.
    ingress_settings               = contains(["public", "operators"], each.value.invoker) ? "ALLOW_ALL" : "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
    environment_variables          = merge(local.function_env, local.identity_env, each.value.identity == "worker" ? local.worker_env : {})
  }

  # Eventarc cannot filter Cloud Storage events by prefix: the function is called for every
  # object written to the bucket and ignores those outside incoming/.
  dynamic "event_trigger" {
    for_each = each.value.event_type == null ? [] : [each.value.event_type]
    content {
      trigger_region        = var.region
      event_type            = event_trigger.value
      retry_policy          = "RETRY_POLICY_RETRY"
      service_account_email = google_service_account.sa["eventarc"].email
      event_filters {
        attribute = "bucket"
        value     = google_storage_bucket.data.name
      }
    }
  }

  depends_on = [
    google_project_iam_member.sa,
    google_project_iam_member.gcs_pubsub_publisher,
    google_storage_bucket_iam_member.build_sources,
  ]
}

# Gen2 functions are Cloud Run services: invoking one takes roles/run.invoker on its service
# (the Cloud Functions IAM API rejects that role, hashicorp/terraform-provider-google#15264).
resource "google_cloud_run_v2_service_iam_member" "function_invoker" {
  for_each = local.function_invoker_bindings

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.fn[each.value.function].service_config[0].service
  role     = "roles/run.invoker"
  member   = each.value.member
}
