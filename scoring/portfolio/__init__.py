"""Portfolio rescoring: books scored chunk by chunk with the single-applicant engine."""

CHUNK_ROWS = 50_000
"""Rows of a book read and scored at a time, unless a run says otherwise (declared here,
where ``carescore batch`` reads it without loading the scoring)."""
