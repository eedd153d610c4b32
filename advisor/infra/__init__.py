"""Infrastructure: typed errors, atomic file writes, the safe YAML reader, bundled resources."""
