"""Orders (PRODUCT.md §3): placing with server-side pricing and an atomic credit gate, approvals, history."""
