"""Resource specification: parsing the `generate resource` field language."""
