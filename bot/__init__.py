"""Storefront → TikTok Shop migration assistant: the core package (nothing runs at import)."""
