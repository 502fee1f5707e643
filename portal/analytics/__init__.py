"""Channel analytics (PRODUCT.md §7): channel flow (sell-in, sell-through, dealer stock, cash) and price monitoring."""
