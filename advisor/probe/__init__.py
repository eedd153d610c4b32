"""`advisor probe`: hardware detection and the same micro-training in every framework.

hardware.py detects (no framework import), runner.py runs one probe child safely, core.py
orchestrates the rows, model.py is the probe JSON and ``load_probe``.
"""
