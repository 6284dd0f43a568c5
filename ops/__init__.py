"""Operations around the synthesized stacks: local deploys, plan review."""
