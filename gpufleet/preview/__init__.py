"""Offline preview: the real Pulumi program evaluated under the SDK's mock engine."""
