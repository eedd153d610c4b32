"""The decision: facts from answers and probes, the scoring engine, the Assessment, robustness."""
