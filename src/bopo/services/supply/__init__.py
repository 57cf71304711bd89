"""Purchase orders and stock: bringing them in, supply changes, goods in, statuses."""
