"""Probe scripts and their shared harness; installed as advisor._probes (read by path)."""
