provider "google" {
  project = var.project_id
  region  = var.region
}

module "pagesage" {
  source = "../../modules/pagesage"

  env                      = "prod"
  project_id               = var.project_id
  region                   = var.region
  firestore_location       = var.firestore_location
  documentai_location      = var.documentai_location
  tesseract_image          = var.tesseract_image
  function_source_dir      = "${path.root}/../../../build/functions"
  max_instances            = var.max_instances
  deletion_protection      = var.deletion_protection
  deployer_service_account = var.deployer_service_account
  operators                = var.operators
}
