"""Collections (催收, PRODUCT.md §14): dunning levels, the collections worklist, promises to pay, contact notes."""
