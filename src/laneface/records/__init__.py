"""Crossing records: SQLAlchemy tables, Alembic migrations, the entry/exit ledger, retention, encryption, audit.

Nothing is done at import time; entry points build a :class:`laneface.records.service.RecordsService`.
"""
