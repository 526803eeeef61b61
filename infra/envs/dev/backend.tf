# State in a GCS bucket per environment. The bucket is not named here (partial configuration):
#   terraform init -backend-config="bucket=<state bucket>"
terraform {
  backend "gcs" {
    prefix = "pagesage/dev"
  }
}
