"""Receivables and credit (PRODUCT.md §5): the dealer ledger, payments and their application, ageing,
credit limits, temporary increases, holds and the daily overdue scan."""
