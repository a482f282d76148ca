"""The collection strategy engine: the domain, with no transport in it."""
