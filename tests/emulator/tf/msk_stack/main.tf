# Hand-made test configuration for the extended moto server (emulator/).
#
# It declares the MSK, Lambda and Firehose resources the platform stacks use, the way they
# use them, plus the VPC, subnets, security group, IAM roles, buckets and log groups they need.
# tests/emulator/test_terraform.py applies it, checks that a second plan is empty and destroys
# it. Nothing here is shaped to suit moto: where moto falls short, emulator/ is extended.

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}

variable "endpoint" {
  description = "URL of the extended moto server, e.g. http://127.0.0.1:4599"
  type        = string
}

variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "name" {
  description = "Name prefix for every resource"
  type        = string
  default     = "acme-emu"
}

variable "lambda_zip" {
  description = "Path of the zip holding the test Lambda's handler.py (built by the test)"
  type        = string
}

provider "aws" {
  region                      = var.region
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
  # A few retries: a request can meet a connection the emulator has just closed (it
  # answers HTTP/1.0, one request a connection); unsupported APIs still fail quickly.
  max_retries = 4

  endpoints {
    ec2      = var.endpoint
    firehose = var.endpoint
    iam      = var.endpoint
    kafka    = var.endpoint
    lambda   = var.endpoint
    logs     = var.endpoint
    s3       = var.endpoint
    sts      = var.endpoint
  }
}

locals {
  azs   = ["${var.region}a", "${var.region}b", "${var.region}c"]
  topic = "acme-telemetry"
  tags = {
    Project = "acme-telemetry"
    Stack   = "emulator-test"
  }
}

# --- Network -------------------------------------------------------------------------------

resource "aws_vpc" "main" {
  cidr_block           = "10.42.0.0/16"
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = local.tags
}

resource "aws_subnet" "private" {
  count             = 3
  vpc_id            = aws_vpc.main.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(aws_vpc.main.cidr_block, 8, count.index)
  tags              = merge(local.tags, { Name = "${var.name}-private-${count.index}" })
}

resource "aws_security_group" "msk" {
  name        = "${var.name}-msk"
  description = "MSK brokers: SASL/IAM from inside the VPC"
  vpc_id      = aws_vpc.main.id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "msk_iam" {
  security_group_id = aws_security_group.msk.id
  description       = "Kafka SASL/IAM"
  cidr_ipv4         = aws_vpc.main.cidr_block
  ip_protocol       = "tcp"
  from_port         = 9098
  to_port           = 9098
}

# --- Logs and buckets ------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "broker" {
  name              = "/acme/${var.name}/msk-broker"
  retention_in_days = 14
  tags              = local.tags
}

resource "aws_cloudwatch_log_group" "firehose" {
  name              = "/acme/${var.name}/firehose"
  retention_in_days = 14
  tags              = local.tags
}

resource "aws_cloudwatch_log_stream" "firehose_s3" {
  name           = "S3Delivery"
  log_group_name = aws_cloudwatch_log_group.firehose.name
}

resource "aws_s3_bucket" "logs" {
  bucket        = "${var.name}-broker-logs"
  force_destroy = true
  tags          = local.tags
}

resource "aws_s3_bucket" "raw" {
  bucket        = "${var.name}-raw"
  force_destroy = true
  tags          = local.tags
}

# --- MSK -----------------------------------------------------------------------------------

resource "aws_msk_configuration" "main" {
  name           = "${var.name}-kafka"
  description    = "ACME telemetry broker settings"
  kafka_versions = ["3.8.x"]
  server_properties = join("\n", [
    "auto.create.topics.enable=false",
    "default.replication.factor=3",
    "min.insync.replicas=2",
  ])
}

resource "aws_msk_cluster" "main" {
  cluster_name           = "${var.name}-kafka"
  kafka_version          = "3.8.x"
  number_of_broker_nodes = 3
  enhanced_monitoring    = "PER_TOPIC_PER_BROKER"

  broker_node_group_info {
    instance_type   = "kafka.m5.large"
    client_subnets  = aws_subnet.private[*].id
    security_groups = [aws_security_group.msk.id]

    storage_info {
      ebs_storage_info {
        volume_size = 100
      }
    }

    connectivity_info {
      vpc_connectivity {
        client_authentication {
          sasl {
            iam = true
          }
        }
      }
    }
  }

  client_authentication {
    sasl {
      iam = true
    }
  }

  encryption_info {
    encryption_in_transit {
      client_broker = "TLS"
      in_cluster    = true
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.main.arn
    revision = aws_msk_configuration.main.latest_revision
  }

  logging_info {
    broker_logs {
      cloudwatch_logs {
        enabled   = true
        log_group = aws_cloudwatch_log_group.broker.name
      }
      s3 {
        enabled = true
        bucket  = aws_s3_bucket.logs.id
        prefix  = "msk/"
      }
    }
  }

  tags = local.tags
}

resource "aws_msk_cluster_policy" "firehose" {
  cluster_arn = aws_msk_cluster.main.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "FirehoseMskSource"
      Effect    = "Allow"
      Principal = { Service = "firehose.amazonaws.com" }
      Action = [
        "kafka:CreateVpcConnection",
        "kafka:GetBootstrapBrokers",
        "kafka:DescribeCluster",
        "kafka:DescribeClusterV2",
      ]
      Resource = aws_msk_cluster.main.arn
    }]
  })
}

# --- Lambda --------------------------------------------------------------------------------

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "consumer" {
  name               = "${var.name}-consumer"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy_attachment" "consumer_msk" {
  role       = aws_iam_role.consumer.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaMSKExecutionRole"
}

resource "aws_lambda_function" "consumer" {
  function_name    = "${var.name}-consumer"
  role             = aws_iam_role.consumer.arn
  runtime          = "python3.13"
  handler          = "handler.handler"
  filename         = var.lambda_zip
  source_code_hash = filebase64sha256(var.lambda_zip)
  timeout          = 30
  memory_size      = 256


  tags = local.tags
}

resource "aws_lambda_event_source_mapping" "msk" {
  function_name     = aws_lambda_function.consumer.arn
  event_source_arn  = aws_msk_cluster.main.arn
  topics            = [local.topic]
  starting_position = "LATEST"
  batch_size        = 100

  amazon_managed_kafka_event_source_config {
    consumer_group_id = "${var.name}-consumer"
  }
}

resource "aws_lambda_invocation" "seed" {
  function_name = aws_lambda_function.consumer.function_name
  input = jsonencode({
    action = "seed"
    topic  = local.topic
  })
  triggers = {
    code = aws_lambda_function.consumer.source_code_hash
  }
}

# --- Firehose (MSK source -> S3) -----------------------------------------------------------

data "aws_iam_policy_document" "firehose_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["firehose.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "firehose" {
  name               = "${var.name}-firehose"
  assume_role_policy = data.aws_iam_policy_document.firehose_assume.json
  tags               = local.tags
}

data "aws_iam_policy_document" "firehose" {
  statement {
    actions = [
      "kafka:GetBootstrapBrokers",
      "kafka:DescribeCluster",
      "kafka:DescribeClusterV2",
      "kafka-cluster:Connect",
    ]
    resources = [aws_msk_cluster.main.arn]
  }
  statement {
    actions = [
      "kafka-cluster:DescribeTopic",
      "kafka-cluster:DescribeTopicDynamicConfiguration",
      "kafka-cluster:ReadData",
    ]
    resources = ["*"]
  }
  statement {
    actions   = ["s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:ListBucket", "s3:PutObject"]
    resources = [aws_s3_bucket.raw.arn, "${aws_s3_bucket.raw.arn}/*"]
  }
  statement {
    actions   = ["logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.firehose.arn}:*"]
  }
}

resource "aws_iam_role_policy" "firehose" {
  name   = "${var.name}-firehose"
  role   = aws_iam_role.firehose.id
  policy = data.aws_iam_policy_document.firehose.json
}

resource "aws_kinesis_firehose_delivery_stream" "raw" {
  name        = "${var.name}-raw"
  destination = "extended_s3"

  msk_source_configuration {
    msk_cluster_arn     = aws_msk_cluster.main.arn
    topic_name          = local.topic
    read_from_timestamp = "2026-01-01T00:00:00Z"

    authentication_configuration {
      connectivity = "PRIVATE"
      role_arn     = aws_iam_role.firehose.arn
    }
  }

  extended_s3_configuration {
    role_arn            = aws_iam_role.firehose.arn
    bucket_arn          = aws_s3_bucket.raw.arn
    compression_format  = "GZIP"
    prefix              = "telemetry/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/"
    error_output_prefix = "errors/!{firehose:error-output-type}/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"
    buffering_interval  = 60
    buffering_size      = 5

    cloudwatch_logging_options {
      enabled         = true
      log_group_name  = aws_cloudwatch_log_group.firehose.name
      log_stream_name = aws_cloudwatch_log_stream.firehose_s3.name
    }

    processing_configuration {
      enabled = true
      processors {
        type = "AppendDelimiterToRecord"
      }
    }
  }

  tags = local.tags

  depends_on = [aws_iam_role_policy.firehose, aws_msk_cluster_policy.firehose]
}

# --- Outputs: everything later code reads ----------------------------------------------------

output "msk_cluster_arn" {
  value = aws_msk_cluster.main.arn
}

output "msk_cluster_name" {
  value = aws_msk_cluster.main.cluster_name
}

output "msk_cluster_uuid" {
  value = aws_msk_cluster.main.cluster_uuid
}

output "msk_bootstrap_brokers_sasl_iam" {
  value = aws_msk_cluster.main.bootstrap_brokers_sasl_iam
}

output "msk_bootstrap_brokers_vpc_connectivity_sasl_iam" {
  value = aws_msk_cluster.main.bootstrap_brokers_vpc_connectivity_sasl_iam
}

output "msk_zookeeper_connect_string" {
  value = aws_msk_cluster.main.zookeeper_connect_string
}

output "msk_current_version" {
  value = aws_msk_cluster.main.current_version
}

output "msk_configuration_arn" {
  value = aws_msk_configuration.main.arn
}

output "msk_configuration_latest_revision" {
  value = aws_msk_configuration.main.latest_revision
}

output "msk_cluster_policy_version" {
  value = aws_msk_cluster_policy.firehose.current_version
}

output "esm_uuid" {
  value = aws_lambda_event_source_mapping.msk.uuid
}

output "esm_state" {
  value = aws_lambda_event_source_mapping.msk.state
}

output "invocation_result" {
  value = aws_lambda_invocation.seed.result
}

output "firehose_arn" {
  value = aws_kinesis_firehose_delivery_stream.raw.arn
}
