"""advisor: choose a deep-learning framework for a concrete project on concrete hardware."""

__version__ = "0.1.0"
