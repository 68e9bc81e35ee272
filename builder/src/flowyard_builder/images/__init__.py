"""Workflow images: build with the docker SDK, push to any OCI registry (ECR through boto3), git metadata.

Modules: `workflow` (flowyard.json, labels, default tag), `git_metadata`, `dependencies` (wheels on the
host), `context` (the generated build context), `build`, `reference` (image names, digests), `registry`
(push), `ecr`, `results` (what the last build/push produced, for the next command), `errors`.
"""
