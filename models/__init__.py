"""The API contract: pydantic v2 schemas. Imports nothing from relief/, handlers/ or notifications/."""
