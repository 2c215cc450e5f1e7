"""Reports built with polars from results files only (they work offline, on copied runs)."""
