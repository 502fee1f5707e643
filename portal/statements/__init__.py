"""Monthly statements and reconciliation (PRODUCT.md §6)."""
