project_id          = "pagesage-dev"
region              = "us-central1"
firestore_location  = "us-central1"
documentai_location = "us"
deletion_protection = false

# Small ceilings: a test environment should not be able to run up a bill.
max_instances = {
  upload          = 3
  status          = 3
  result          = 3
  ocr             = 3
  ocr_bucket_drop = 2
}

deployer_service_account = "pagesage-deployer@pagesage-dev.iam.gserviceaccount.com"
