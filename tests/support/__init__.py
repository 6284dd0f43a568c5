"""Reusable test helpers: local services (tansu Kafka broker, moto server) and event shapes."""
