"""Portfolio accumulation: shared vendors, correlated events and a book's loss curve."""
