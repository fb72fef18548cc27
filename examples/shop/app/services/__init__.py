"""Business logic, one service per resource."""
