output "function_name" {
  description = "The team's consumer Lambda."
  value       = aws_lambda_function.consumer.function_name
}

output "subscribed_topic" {
  description = "Topic the event source mapping reads, from the platform's msk outputs."
  value       = aws_lambda_event_source_mapping.telemetry.topics
}

output "platform_vpc_id" {
  description = "VPC the function runs in, from the platform's network outputs."
  value       = local.network.vpc_id
}
