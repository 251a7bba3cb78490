"""HTTP service: ``create_app(settings)``, routes per role, schemas separate from the records' types."""
