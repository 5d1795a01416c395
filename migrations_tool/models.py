"""Migration plans, waves and runs (assessment, EC2 rehost, RDS replatform)."""
