"""migrations_tool operations: assessment, dependencies and waves, plans, runs and their steps."""
