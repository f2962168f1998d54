"""Offline scaling rehearsal: simulated replicas scraped by a real Prometheus, scaled by the HPA's algorithm."""
