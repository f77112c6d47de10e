"""Storefront → TikTok Shop migration assistant: the core package (nothing runs at import)."""


def version() -> str:
    """The installed package's version (``0+unknown`` when run from an uninstalled tree)."""
    from importlib import metadata

    try:
        return metadata.version("storefront-migration-bot")
    except metadata.PackageNotFoundError:
        return "0+unknown"
