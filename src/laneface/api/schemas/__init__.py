"""Request and response schemas (Create / Update / Public), separate from the records' domain types."""
