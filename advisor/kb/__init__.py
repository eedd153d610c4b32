"""The knowledge base: schema, loader, condition language, lint."""
