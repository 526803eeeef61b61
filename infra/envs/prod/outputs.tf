output "public_url" {
  description = "Base URL of the functions."
  value       = module.pagesage.public_url
}

output "function_urls" {
  description = "URL of each function."
  value       = module.pagesage.function_urls
}

output "bucket" {
  description = "PAGESAGE_BUCKET."
  value       = module.pagesage.bucket
}

output "image_repository" {
  description = "Artifact Registry path of the images."
  value       = module.pagesage.image_repository
}

output "tesseract_url" {
  description = "URL of the private Tesseract service."
  value       = module.pagesage.tesseract_url
}
