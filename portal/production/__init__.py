"""Build-line tracking: units, stage events from the MES, tracking, the HQ production view (PRODUCT.md §4)."""
