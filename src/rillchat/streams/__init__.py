"""Generation -> event log: replies as tasks that outlive the HTTP request that started them."""
