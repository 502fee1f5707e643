"""Everyone's home page (PRODUCT.md §8), showing what exists so far."""
