"""HTTP -> client."""
