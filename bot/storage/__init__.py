"""Storage: the engine and the one session factory, the tables, migrations and erasure.

Used by services, alerts and the wiring; never by the pure layers or the views.
"""
