"""Reminders, the whole feature: pure planner, service, and the outbox dispatcher.

``planner`` (pure) turns deadlines, offsets, time zones and quiet hours into due times;
``service`` is the ``/alerts`` use cases and re-plans the outbox rows in the merchant's
transaction; ``dispatcher`` claims due rows under a lease and sends them through the shared
rate budget.
"""
