"""The platform's five stacks. Each has its own state and shares values only as outputs."""

import modules  # noqa: F401  # first: makes the provider bindings lazy before cdktf loads
