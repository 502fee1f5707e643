"""Bank statements as banks send them (PRODUCT.md §14): dealers' payer accounts, the import of a bank's own export,
and the receipts no dealer could be matched to."""
