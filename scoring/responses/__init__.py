"""responses stage of the pipeline (see ARCHITECTURE.md)."""
