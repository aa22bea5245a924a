"""The call store's schema migrations (Alembic), run by `ivr db upgrade` through ivr.store.upgrade."""
