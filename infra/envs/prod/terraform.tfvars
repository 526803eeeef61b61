project_id          = "pagesage-prod"
region              = "us-central1"
firestore_location  = "nam5" # multi-region: survives the loss of a region
documentai_location = "us"
deletion_protection = true

max_instances = {
  upload          = 20
  status          = 20
  result          = 20
  ocr             = 50
  ocr_bucket_drop = 10
}

deployer_service_account = "pagesage-deployer@pagesage-prod.iam.gserviceaccount.com"
