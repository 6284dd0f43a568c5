"""The platform's five stacks. Each has its own state and shares values only as outputs."""
