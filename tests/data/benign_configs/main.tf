terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.50" }
  }
  backend "s3" {
    bucket = "acme-tf-state"
    key    = "prod/network.tfstate"
    region = "eu-west-1"
  }
}

variable "db_password" {
  type      = string
  sensitive = true
}

resource "aws_db_instance" "main" {
  identifier        = "acme-prod"
  engine            = "postgres"
  instance_class    = "db.t3.medium"
  username          = "app"
  password          = var.db_password
  kms_key_id        = aws_kms_key.db.arn
  storage_encrypted = true
}

resource "aws_kms_key" "db" {
  description             = "db encryption"
  deletion_window_in_days = 30
}
