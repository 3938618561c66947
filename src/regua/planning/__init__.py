"""The planner: pure computation of what is due, for one contact, at one instant."""
