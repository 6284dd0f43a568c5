"""Reusable constructs of the platform, and the packaging of Lambda code."""

from modules import provider_bindings

# Before anything imports cdktf: the provider bindings load lazily (see provider_bindings).
provider_bindings.install()
