"""The definition layer: cadences, steps, triggers, conditions, channels and policy.

Pure data (pydantic v2, frozen), validated at construction and serialisable to YAML/JSON.
Everything here is re-exported from `regua`; import it from there.
"""
