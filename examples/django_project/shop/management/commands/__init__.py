"""``regua_resync``."""
