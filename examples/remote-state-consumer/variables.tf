variable "name" {
  description = "Name of the team's consumer Lambda."
  type        = string
  default     = "team-analytics-telemetry-consumer"
}

variable "region" {
  description = "Region of the platform."
  type        = string
  default     = "us-west-2"
}

variable "environment" {
  description = "Platform environment to read: dev or prod."
  type        = string
  default     = "dev"
}

variable "state_bucket" {
  description = "S3 bucket holding the platform's Terraform state (ACME_STATE_BUCKET)."
  type        = string
}

variable "state_region" {
  description = "Region of the state bucket."
  type        = string
  default     = "us-west-2"
}

variable "state_key_prefix" {
  description = "Key prefix of the platform's state objects."
  type        = string
  default     = "acme-telemetry"
}

variable "consumer_group_id" {
  description = "Kafka consumer group of this team (its own, so it reads every event)."
  type        = string
  default     = "team-analytics"
}

variable "handler_zip" {
  description = "Path of the zip holding handler.py."
  type        = string
}

variable "aws_endpoint_url" {
  description = "Loopback URL of the local AWS emulator; leave null for a real account."
  type        = string
  default     = null
}

variable "state_reader_role_arn" {
  description = "The platform's state-reader role (`make bootstrap` output state_reader_role_arn) to read its state through; null reads with your own credentials."
  type        = string
  default     = null
}
