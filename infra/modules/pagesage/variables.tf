variable "env" {
  description = "Environment name; used in labels and resource names."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.env)
    error_message = "env must be \"dev\" or \"prod\"."
  }
}

variable "project_id" {
  description = "Google Cloud project of this environment (one project per environment)."
  type        = string
}

variable "region" {
  description = "Region of the functions, the bucket, the queue, the Tesseract service and the Eventarc trigger."
  type        = string
}

variable "firestore_location" {
  description = "Firestore location: a region (e.g. us-central1) or a multi-region (nam5, eur3)."
  type        = string
}

variable "firestore_database" {
  description = "Firestore database id (PAGESAGE_FIRESTORE_DATABASE)."
  type        = string
  default     = "(default)"
}

variable "documentai_location" {
  description = "Document AI location of the OCR processor."
  type        = string
  default     = "us"

  validation {
    condition     = contains(["us", "eu"], var.documentai_location)
    error_message = "documentai_location must be \"us\" or \"eu\"."
  }
}

variable "tesseract_image" {
  description = "Container image of the Tesseract service (containers/tesseract), preferably pinned by digest."
  type        = string

  validation {
    condition     = length(trimspace(var.tesseract_image)) > 0
    error_message = "tesseract_image must name an image."
  }
}

variable "function_source_dir" {
  description = "Folder holding one <dir>.zip per function folder, written by infra/package_functions.py."
  type        = string
}

variable "python_runtime" {
  description = "Cloud Functions runtime; pyproject.toml requires Python >= 3.11."
  type        = string
  default     = "python311"
}

# One entry per deployed function: the key is the entry point (the decorated `def` in
# functions/<dir>/main.py) and, with "_" turned into "-", the function's name, which is also
# the path it is served at (README: "Each function is mounted at its own name").
# Adding a function is adding one line here.
#   identity: "runtime" or "worker", the service account it runs as
#   invoker:  "public" (allUsers), "operators" (only the principals of var.operators),
#             "tasks" (only the Cloud Tasks service account),
#             "eventarc" (only the Eventarc trigger's service account) or
#             "scheduler" (only the Cloud Scheduler job's service account)
#   event_type: null for HTTP functions; the Eventarc event type of CloudEvent functions
variable "functions" {
  description = "Functions to deploy, keyed by entry point."
  type = map(object({
    dir           = string
    identity      = optional(string, "runtime")
    invoker       = optional(string, "public")
    event_type    = optional(string)
    memory        = optional(string, "512Mi")
    cpu           = optional(string, "1")
    timeout       = optional(number, 60)
    concurrency   = optional(number, 1)
    max_instances = optional(number, 10)
  }))

  default = {
    upload          = { dir = "upload", memory = "1Gi", timeout = 120, concurrency = 8 }
    status          = { dir = "status", timeout = 30, concurrency = 40 }
    result          = { dir = "result", memory = "1Gi", timeout = 120, concurrency = 8 }
    ocr             = { dir = "ocr", identity = "worker", invoker = "tasks", memory = "2Gi", cpu = "1", timeout = 540, concurrency = 1 }
    ocr_bucket_drop = { dir = "ocr", invoker = "eventarc", event_type = "google.cloud.storage.object.v1.finalized", memory = "1Gi", timeout = 300, concurrency = 8, max_instances = 5 }
    costs           = { dir = "costs", invoker = "operators", memory = "1Gi", timeout = 120, concurrency = 2, max_instances = 2 }
    provenance      = { dir = "provenance", invoker = "operators", memory = "1Gi", timeout = 60, concurrency = 8 }
    ingest          = { dir = "ingest", invoker = "operators", memory = "2Gi", timeout = 300, concurrency = 2 }
    review          = { dir = "review", invoker = "operators", timeout = 30, concurrency = 20 }
    sweep           = { dir = "sweep", identity = "worker", invoker = "scheduler", memory = "1Gi", timeout = 300, concurrency = 1, max_instances = 1 }
    projects        = { dir = "projects", invoker = "operators", memory = "2Gi", timeout = 540, concurrency = 4 }
    annotations     = { dir = "annotations", invoker = "operators", memory = "1Gi", timeout = 60, concurrency = 20 }
    validate        = { dir = "validate", invoker = "operators", memory = "2Gi", timeout = 300, concurrency = 4 }
    web             = { dir = "web", invoker = "operators", timeout = 30, concurrency = 40 }
  }

  validation {
    condition     = alltrue([for name, f in var.functions : can(regex("^[a-z][a-z0-9_]{0,61}[a-z0-9]$", name))])
    error_message = "Function keys are Python entry points: lower case letters, digits and \"_\", at most 63 characters."
  }

  validation {
    condition     = alltrue([for f in values(var.functions) : contains(["runtime", "worker"], f.identity)])
    error_message = "identity must be \"runtime\" or \"worker\"."
  }

  validation {
    condition     = alltrue([for f in values(var.functions) : contains(["public", "operators", "tasks", "eventarc", "scheduler"], f.invoker)])
    error_message = "invoker must be \"public\", \"operators\", \"tasks\", \"eventarc\" or \"scheduler\"."
  }

  # Only Cloud Storage "finalized" events are wired (the trigger filters on the PAGESAGE_BUCKET
  # bucket); an event function is invoked by the Eventarc trigger and nothing else.
  validation {
    condition = alltrue([for f in values(var.functions) :
      (f.event_type == null ? f.invoker != "eventarc" : (f.event_type == "google.cloud.storage.object.v1.finalized" && f.invoker == "eventarc"))
    ])
    error_message = "event_type must be null or google.cloud.storage.object.v1.finalized, and event functions (only they) use invoker \"eventarc\"."
  }

  # More than one concurrent request per instance needs at least one vCPU
  # (https://cloud.google.com/run/docs/about-concurrency).
  validation {
    condition     = alltrue([for f in values(var.functions) : f.concurrency == 1 || tonumber(f.cpu) >= 1])
    error_message = "concurrency > 1 needs cpu >= 1."
  }

  # Event-driven functions time out after at most 540 s, HTTP functions after 3600 s
  # (https://cloud.google.com/functions/docs/configuring/timeout).
  validation {
    condition     = alltrue([for f in values(var.functions) : f.timeout > 0 && f.timeout <= (f.event_type == null ? 3600 : 540)])
    error_message = "timeout must be at most 540 s for event functions and 3600 s for HTTP functions."
  }

  # Cloud Tasks POSTs tasks to <public URL>/ocr (Settings.worker_url).
  validation {
    condition     = contains(keys(var.functions), "ocr") && try(var.functions["ocr"].invoker == "tasks", false)
    error_message = "The worker function \"ocr\" must exist and be invoked by Cloud Tasks."
  }
}

variable "max_instances" {
  description = "Per-environment max instance counts by function key, overriding var.functions."
  type        = map(number)
  default     = {}
}

variable "public_url" {
  description = "Base URL the functions are reached at (PAGESAGE_PUBLIC_URL); null: https://<region>-<project>.cloudfunctions.net."
  type        = string
  default     = null
}

variable "tasks_queue_name" {
  description = "Cloud Tasks queue id (PAGESAGE_TASKS_QUEUE). A deleted queue's name cannot be reused for up to 7 days."
  type        = string
  default     = "pagesage-ocr"
}

variable "queue" {
  description = "Dispatch rate and retry policy of the OCR task queue."
  type = object({
    max_dispatches_per_second  = optional(number, 10)
    max_attempts               = optional(number, 10)
    min_backoff_seconds        = optional(number, 10)
    max_backoff_seconds        = optional(number, 300)
    max_doublings              = optional(number, 4)
    max_retry_duration_seconds = optional(number, 3600)
  })
  default = {}
}

variable "tesseract" {
  description = "Sizing of the Tesseract Cloud Run service. The container runs one Tesseract process per request with OMP_THREAD_LIMIT=1, so concurrency should equal cpu (containers/tesseract/app.py)."
  type = object({
    cpu             = optional(string, "2")
    memory          = optional(string, "2Gi")
    concurrency     = optional(number, 2)
    max_instances   = optional(number, 10)
    timeout_seconds = optional(number, 300)
  })
  default = {}
}

variable "results_retention_days" {
  description = "Age in days after which objects under results/ are deleted (jobs are kept 48 hours after they finish)."
  type        = number
  default     = 2
}

variable "work_retention_days" {
  description = "Age in days after which objects under originals/, pages/ and raw/ are deleted; must exceed the longest time a job takes plus the 48 hours it is kept."
  type        = number
  default     = 3
}

variable "incoming_retention_days" {
  description = "Age in days after which bucket drops under incoming/ are deleted."
  type        = number
  default     = 7
}

variable "deletion_protection" {
  description = "Protect the Firestore database and the Tesseract service from deletion, keep the bucket when it holds objects."
  type        = bool
  default     = true
}

variable "deployer_service_account" {
  description = "Email of the service account Cloud Build deploys with; granted actAs on the runtime service accounts. null: grant nothing."
  type        = string
  default     = null
}

variable "operators" {
  description = "IAM principals (user:, group:, serviceAccount:, domain:, principal:, principalSet:) that may invoke the functions whose invoker is \"operators\" (the cost log). Empty: only principals holding roles/run.invoker through the project."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.operators : can(regex("^(user|group|serviceAccount|domain|principal|principalSet):.+", m))])
    error_message = "operators are IAM principals such as group:ops@example.com; allUsers and allAuthenticatedUsers are not accepted."
  }
}

variable "sweep_schedule" {
  description = "Cron schedule (UTC) of the Cloud Scheduler job that calls the sweep function: stalled jobs are queued again or given up."
  type        = string
  default     = "*/5 * * * *"
}

variable "trusted_proxy_hops" {
  description = "PAGESAGE_TRUSTED_PROXY_HOPS: proxies in front of the functions that append to X-Forwarded-For. Google's front end is one; an external HTTPS load balancer in front adds one more (it appends the client and its own address)."
  type        = number
  default     = 1

  validation {
    condition     = var.trusted_proxy_hops >= 0 && var.trusted_proxy_hops <= 10 && floor(var.trusted_proxy_hops) == var.trusted_proxy_hops
    error_message = "trusted_proxy_hops must be a whole number from 0 to 10."
  }
}

variable "iap_audience" {
  description = "PAGESAGE_IAP_AUDIENCE: the audience of Identity-Aware Proxy's signed header when IAP is in front of the functions (/projects/NUMBER/global/backendServices/ID); the header then names who edits. null: not behind IAP."
  type        = string
  default     = null
}

variable "id_token_audience" {
  description = "PAGESAGE_ID_TOKEN_AUDIENCE: the audience (OAuth client id) of the Google ID tokens editors send as Authorization: Bearer; the token then names who edits. null: none."
  type        = string
  default     = null
}

variable "fetch_allow_hosts" {
  description = "PAGESAGE_FETCH_ALLOW_HOSTS: host:port entries remote sources may name whatever their addresses, over http too (a private deployment's own stores); every other URL must be https to a public address (docs/security.md)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for h in var.fetch_allow_hosts : can(regex("^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}$", h))])
    error_message = "each fetch_allow_hosts entry is host:port ([v6-address]:port for IPv6)."
  }
}
