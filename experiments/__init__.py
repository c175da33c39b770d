"""A/B analysis of campaigns and their segments (a later issue)."""

__all__: list[str] = []
