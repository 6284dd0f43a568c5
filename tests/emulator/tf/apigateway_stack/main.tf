# Hand-made test configuration for the API Gateway data plane (emulator/dataplane/apigateway*).
#
# The dashboard stack's two APIs, declared as stacks/dashboard.py declares them: a WEBSOCKET
# API ($connect, $disconnect, $default with a route response, stage "live") and an HTTP API
# ($default route, payload format 2.0, stage "$default"), each route an AWS_PROXY Lambda
# integration with its aws_lambda_permission. The URLs are built from api_endpoint, the way
# the stacks must build them to open locally (see the outputs).

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
  description = "URL of the moto server, e.g. http://127.0.0.1:4599"
  type        = string
}

variable "region" {
  type    = string
  default = "us-west-2"
}

variable "name" {
  type    = string
  default = "acme-apigw"
}

variable "lambda_zip" {
  description = "Path of the zip holding handler.py (built by the test)"
  type        = string
}

provider "aws" {
  region                      = var.region
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  # A few retries: a request can meet a connection the emulator has just closed (it
  # answers HTTP/1.0, one request a connection); unsupported APIs still fail quickly.
  max_retries = 4

  endpoints {
    apigatewayv2 = var.endpoint
    iam          = var.endpoint
    lambda       = var.endpoint
    sts          = var.endpoint
  }
}

resource "aws_iam_role" "function" {
  name = "${var.name}-function"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_lambda_function" "route" {
  for_each         = toset(["connect", "disconnect", "default", "page"])
  function_name    = "${var.name}-${each.key}"
  role             = aws_iam_role.function.arn
  runtime          = "python3.13"
  architectures    = ["arm64"]
  handler          = "handler.${each.key}"
  filename         = var.lambda_zip
  source_code_hash = filebase64sha256(var.lambda_zip)
  timeout          = 29
}

resource "aws_apigatewayv2_api" "live" {
  name                       = "${var.name}-live"
  protocol_type              = "WEBSOCKET"
  route_selection_expression = "$request.body.action"
}

resource "aws_apigatewayv2_stage" "live" {
  api_id      = aws_apigatewayv2_api.live.id
  name        = "live"
  auto_deploy = true
  default_route_settings {
    throttling_burst_limit = 500
    throttling_rate_limit  = 100
  }
}

locals {
  routes = { "$connect" = "connect", "$disconnect" = "disconnect", "$default" = "default" }
}

resource "aws_apigatewayv2_integration" "live" {
  for_each           = local.routes
  api_id             = aws_apigatewayv2_api.live.id
  integration_type   = "AWS_PROXY"
  integration_uri    = aws_lambda_function.route[each.value].invoke_arn
  integration_method = "POST"
}

resource "aws_apigatewayv2_route" "live" {
  for_each                            = local.routes
  api_id                              = aws_apigatewayv2_api.live.id
  route_key                           = each.key
  target                              = "integrations/${aws_apigatewayv2_integration.live[each.key].id}"
  route_response_selection_expression = each.key == "$default" ? "$default" : null
}

resource "aws_apigatewayv2_route_response" "default" {
  api_id             = aws_apigatewayv2_api.live.id
  route_id           = aws_apigatewayv2_route.live["$default"].id
  route_response_key = "$default"
}

resource "aws_lambda_permission" "live" {
  for_each      = local.routes
  statement_id  = "AllowApiGatewayInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.route[each.value].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.live.execution_arn}/live/${each.key}"
}

resource "aws_apigatewayv2_api" "page" {
  name          = "${var.name}-dashboard"
  protocol_type = "HTTP"
}

resource "aws_apigatewayv2_integration" "page" {
  api_id                 = aws_apigatewayv2_api.page.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.route["page"].invoke_arn
  integration_method     = "POST"
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "page" {
  api_id    = aws_apigatewayv2_api.page.id
  route_key = "$default"
  target    = "integrations/${aws_apigatewayv2_integration.page.id}"
}

resource "aws_apigatewayv2_stage" "page" {
  api_id      = aws_apigatewayv2_api.page.id
  name        = "$default"
  auto_deploy = true
}

resource "aws_lambda_permission" "page" {
  statement_id  = "AllowHttpApiInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.route["page"].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.page.execution_arn}/*/$default"
}

# What the stacks must export for the URLs to open locally (and that are AWS's on AWS).
output "websocket_url" {
  value = "${aws_apigatewayv2_api.live.api_endpoint}/${aws_apigatewayv2_stage.live.name}"
}

output "websocket_callback_url" {
  value = "${replace(aws_apigatewayv2_api.live.api_endpoint, "/^ws/", "http")}/${aws_apigatewayv2_stage.live.name}"
}

output "dashboard_url" {
  value = "${aws_apigatewayv2_api.page.api_endpoint}/"
}

# The provider computes these from the region's DNS name, never from the API: on AWS they
# equal the outputs above, locally they point nowhere.
output "stage_invoke_url" {
  value = aws_apigatewayv2_stage.live.invoke_url
}

output "websocket_api_id" {
  value = aws_apigatewayv2_api.live.id
}
