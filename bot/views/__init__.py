"""Screens: pure functions from a small view model to text and buttons.

A screen builder takes plain data (answers, progress, dates), renders a template from the
content tree and returns a :class:`~bot.views.screens.Screen`. No Telegram objects, no SQL:
``content check`` renders every screen with sample data. May import the domain and content.
"""
