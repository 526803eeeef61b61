# Values derived only from variables and files, never from resources or data sources, so that
# `terraform console` can evaluate them without the Google provider (tests/infra does).

locals {
  labels = {
    app = "pagesage"
    env = var.env
  }

  # --- Functions -------------------------------------------------------------------------

  functions = {
    for name, f in var.functions : name => merge(f, {
      name          = replace(name, "_", "-")
      max_instances = lookup(var.max_instances, name, f.max_instances)
    })
  }

  # Function folders, each packaged once (ocr and ocr_bucket_drop share functions/ocr).
  function_dirs = toset([for f in values(var.functions) : f.dir])

  # Cloud Functions (gen2) serves every function at https://<region>-<project>.cloudfunctions.net/<name>.
  public_url = coalesce(var.public_url, "https://${var.region}-${var.project_id}.cloudfunctions.net")

  # The queue never has more tasks in flight than the worker can take at once; beyond that
  # Cloud Run answers 429 and Cloud Tasks backs off.
  worker_capacity = local.functions["ocr"].max_instances * local.functions["ocr"].concurrency

  # --- Firestore, from firestore.indexes.json (the single source) -------------------------

  firestore = jsondecode(file("${path.module}/../../../firestore.indexes.json"))

  # Composite indexes, keyed by collection group, scope and fields.
  firestore_composite_indexes = {
    for ix in local.firestore.indexes :
    join(":", concat(
      [ix.collectionGroup, try(ix.queryScope, "COLLECTION")],
      [for f in ix.fields : "${f.fieldPath}=${try(f.order, f.arrayConfig)}"],
      )) => {
      collection  = ix.collectionGroup
      query_scope = try(ix.queryScope, "COLLECTION")
      fields = [for f in ix.fields : {
        field_path   = f.fieldPath
        order        = try(f.order, null)
        array_config = try(f.arrayConfig, null)
      }]
    }
  }

  # Single-field overrides, keyed by "<collection group>/<field>": a TTL policy where "ttl" is
  # true, the listed single-field indexes where "indexes" is present (an empty list exempts
  # the field from indexing), the inherited indexes where it is absent.
  firestore_field_overrides = {
    for o in local.firestore.fieldOverrides : "${o.collectionGroup}/${o.fieldPath}" => {
      collection = o.collectionGroup
      field      = o.fieldPath
      ttl        = try(o.ttl, false)
      indexes = can(o.indexes) ? [for i in o.indexes : {
        query_scope  = try(i.queryScope, "COLLECTION")
        order        = try(i.order, null)
        array_config = try(i.arrayConfig, null)
      }] : null
    }
  }

  # --- Identities --------------------------------------------------------------------------

  # One service account per role; account ids are "pagesage-<key>".
  service_accounts = {
    runtime   = "PageSage functions: upload, status, result, ocr_bucket_drop"
    worker    = "PageSage OCR worker (ocr function)"
    tasks     = "PageSage Cloud Tasks: OIDC identity that invokes the worker"
    eventarc  = "PageSage Eventarc trigger: invokes ocr_bucket_drop"
    build     = "PageSage Cloud Functions builds"
    tesseract = "PageSage Tesseract Cloud Run service"
    scheduler = "PageSage Cloud Scheduler: OIDC identity that invokes the sweep"
  }

  # Project-level roles (those without a narrower resource to bind to); resource-level
  # bindings are in iam.tf. The table in infra/README.md lists both with their reasons.
  project_roles = {
    runtime  = ["roles/datastore.user"]
    worker   = ["roles/datastore.user", "roles/documentai.apiUser"]
    eventarc = ["roles/eventarc.eventReceiver"]
    build    = ["roles/logging.logWriter", "roles/artifactregistry.writer"]
  }

  project_role_bindings = merge([
    for account, roles in local.project_roles : {
      for role in roles : "${account}/${role}" => { account = account, role = role }
    }
  ]...)

  # --- APIs --------------------------------------------------------------------------------

  services = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "cloudtasks.googleapis.com",
    "documentai.googleapis.com",
    "eventarc.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "storage.googleapis.com",
  ])
}
