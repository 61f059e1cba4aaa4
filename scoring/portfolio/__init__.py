"""Portfolio rescoring: books scored chunk by chunk with the single-applicant engine."""
