"""Operator broadcasts: segments of merchants (pure), campaigns sent through the outbox."""
