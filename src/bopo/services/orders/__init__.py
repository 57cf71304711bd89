"""Sales orders: taking them in, how they stand, changing and despatching them."""
