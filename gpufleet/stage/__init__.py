"""The step between the two phases: images into the stack's registry, weights into its bucket, verified."""
