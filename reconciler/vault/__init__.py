"""Vault references: the passwords that manifests point at, resolved through hvac."""
