"""JSON Schemas of preserve, installed as the data package ``preserve.schemas``."""
