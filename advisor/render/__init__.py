"""Renderers: one Assessment, several views (terminal, Markdown, HTML, JSON)."""
