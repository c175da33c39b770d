"""The batch scorer (a later issue): champion models to a campaign audience file."""

__all__: list[str] = []
