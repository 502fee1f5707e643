"""Regions, dealers and users: the people of the channel."""
