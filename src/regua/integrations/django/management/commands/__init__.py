"""The commands, one module each (Django finds them by their module's name)."""
