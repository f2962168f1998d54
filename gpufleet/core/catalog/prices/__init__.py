"""Price catalog data (`aws.yaml`, `alicloud.yaml`, `fx.yaml`), read by gpufleet.core.cost.catalog.

A package only so that the YAML files ship with the wheel as package data.
"""
