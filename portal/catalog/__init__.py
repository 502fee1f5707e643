"""The catalogue and price policies (PRODUCT.md §2)."""
