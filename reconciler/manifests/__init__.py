"""Reading manifests: YAML with positions, schema and cross-reference checks, normalization."""
