resource "google_firestore_database" "main" {
  project     = var.project_id
  name        = var.firestore_database
  location_id = var.firestore_location
  type        = "FIRESTORE_NATIVE"

  app_engine_integration_mode = "DISABLED"
  delete_protection_state     = var.deletion_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  # ABANDON (the provider's default) leaves the database in place on `terraform destroy`.
  deletion_policy = var.deletion_protection ? "ABANDON" : "DELETE"

  depends_on = [google_project_service.apis]
}

# Composite indexes: one per entry of "indexes" in firestore.indexes.json.
resource "google_firestore_index" "composite" {
  for_each = local.firestore_composite_indexes

  project     = var.project_id
  database    = google_firestore_database.main.name
  collection  = each.value.collection
  query_scope = each.value.query_scope

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path   = fields.value.field_path
      order        = fields.value.order
      array_config = fields.value.array_config
    }
  }
}

# Single-field overrides: one per entry of "fieldOverrides" in firestore.indexes.json.
# `ttl_config {}` turns the field into the collection group's TTL policy; an `index_config`
# without `indexes` exempts the field from indexing (google_firestore_field documentation).
resource "google_firestore_field" "override" {
  for_each = local.firestore_field_overrides

  project    = var.project_id
  database   = google_firestore_database.main.name
  collection = each.value.collection
  field      = each.value.field

  dynamic "ttl_config" {
    for_each = each.value.ttl ? [true] : []
    content {}
  }

  dynamic "index_config" {
    for_each = each.value.indexes == null ? [] : [each.value.indexes]
    content {
      dynamic "indexes" {
        for_each = index_config.value
        content {
          query_scope  = indexes.value.query_scope
          order        = indexes.value.order
          array_config = indexes.value.array_config
        }
      }
    }
  }
}
