"""Plans: the difference between the manifests and the store, and how it is shown."""
