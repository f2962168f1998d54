"""Shared code of the Locust scenarios in loadtests/ (imported as `common`, next to the locustfiles)."""
