# A team outside this codebase subscribes its own Lambda to the telemetry topic, using
# only the platform's published outputs (see the README's outputs contract).

terraform {
  required_version = ">= 1.10"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100.0, < 6.0.0"
    }
  }
}

locals {
  local_emulator = var.aws_endpoint_url != null
  # Only for the local emulator: the same reads work against a real account without them.
  # (jsondecode: the two branches of a conditional must have the same object type.)
  emulator_backend = jsondecode(local.local_emulator ? jsonencode({
    endpoints                   = { s3 = var.aws_endpoint_url, sts = var.aws_endpoint_url }
    use_path_style              = true
    skip_credentials_validation = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
  }) : "{}")
  # Read through the platform's state-reader role when one is given.
  reader = jsondecode(var.state_reader_role_arn == null ? "{}" : jsonencode({
    assume_role = { role_arn = var.state_reader_role_arn }
  }))
}

provider "aws" {
  region                      = var.region
  skip_credentials_validation = local.local_emulator
  skip_metadata_api_check     = local.local_emulator
  s3_use_path_style           = local.local_emulator
  max_retries                 = local.local_emulator ? 3 : null

  endpoints {
    iam    = var.aws_endpoint_url
    lambda = var.aws_endpoint_url
    logs   = var.aws_endpoint_url
    sts    = var.aws_endpoint_url
  }
}

data "terraform_remote_state" "network" {
  backend = "s3"
  config = merge({
    bucket = var.state_bucket
    key    = "${var.state_key_prefix}/${var.environment}/network.tfstate"
    region = var.state_region
  }, local.emulator_backend, local.reader)
}

data "terraform_remote_state" "msk" {
  backend = "s3"
  config = merge({
    bucket = var.state_bucket
    key    = "${var.state_key_prefix}/${var.environment}/msk.tfstate"
    region = var.state_region
  }, local.emulator_backend, local.reader)
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  network = data.terraform_remote_state.network.outputs
  msk     = data.terraform_remote_state.msk.outputs
  group_arn = join(":", [
    "arn", data.aws_partition.current.partition, "kafka", var.region,
    data.aws_caller_identity.current.account_id,
    "group/${local.msk.msk_cluster_name}/${local.msk.msk_cluster_uuid}/${var.consumer_group_id}",
  ])
}

resource "aws_iam_role" "consumer" {
  name = "${var.name}-role"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "lambda.amazonaws.com" }
    }]
  })
}

resource "aws_iam_role_policy" "consumer" {
  name = "read-telemetry"
  role = aws_iam_role.consumer.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "Cluster"
        Effect   = "Allow"
        Action   = ["kafka:DescribeClusterV2", "kafka:GetBootstrapBrokers", "kafka-cluster:Connect"]
        Resource = local.msk.msk_cluster_arn
      },
      {
        Sid      = "Topic"
        Effect   = "Allow"
        Action   = ["kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"]
        Resource = local.msk.topic_arn
      },
      {
        Sid      = "Group"
        Effect   = "Allow"
        Action   = ["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"]
        Resource = local.group_arn
      },
      {
        Sid    = "NetworkInterfaces"
        Effect = "Allow"
        Action = [
          "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
          "ec2:DescribeSubnets", "ec2:DescribeVpcs", "ec2:DescribeSecurityGroups",
        ]
        Resource = "*"
      },
      {
        Sid      = "Logs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${aws_cloudwatch_log_group.consumer.arn}:*"
      },
    ]
  })
}

resource "aws_cloudwatch_log_group" "consumer" {
  name              = "/aws/lambda/${var.name}"
  retention_in_days = 14
}

resource "aws_lambda_function" "consumer" {
  function_name    = var.name
  role             = aws_iam_role.consumer.arn
  runtime          = "python3.13"
  handler          = "handler.lambda_handler"
  filename         = var.handler_zip
  source_code_hash = filebase64sha256(var.handler_zip)
  timeout          = 60

  # In the platform's VPC, in the group the MSK brokers accept.
  vpc_config {
    subnet_ids         = local.network.private_subnet_ids
    security_group_ids = [local.network.lambda_security_group_id]
  }

  depends_on = [aws_iam_role_policy.consumer, aws_cloudwatch_log_group.consumer]
}

resource "aws_lambda_event_source_mapping" "telemetry" {
  function_name     = aws_lambda_function.consumer.arn
  event_source_arn  = local.msk.msk_cluster_arn
  topics            = [local.msk.topic_name]
  starting_position = "LATEST"
  batch_size        = 100

  amazon_managed_kafka_event_source_config {
    consumer_group_id = var.consumer_group_id
  }
}
