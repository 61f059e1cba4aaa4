"""Synthetic data: facilities answering a questionnaire (and, later, their claims)."""
