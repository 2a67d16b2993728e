"""Orders: service types, the order's life (the status machine), pricing and no-shows."""
