"""bedrock_local: an offline, faithful Bedrock Runtime (placeholder until issue #2 lands)."""
