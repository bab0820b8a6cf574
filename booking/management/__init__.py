"""Management commands: Django finds them only here, so each is a thin shell that parses arguments and calls
its product's service."""
