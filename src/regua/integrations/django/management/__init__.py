"""regua's management commands: ``regua_worker``, ``regua_tick`` and ``regua_check``."""
