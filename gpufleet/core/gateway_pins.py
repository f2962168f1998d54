"""Envoy Gateway's pinned chart and images: data the program installs and `gpufleet mirror` copies.

Envoy Gateway v1.7 supports Kubernetes 1.32-1.35 (gateway.envoyproxy.io compatibility
matrix) and bundles the Gateway API v1.4 CRDs (the program installs v1.6.1 itself first,
see gpufleet/infra/components/gateway_crds.py). China stacks pull the chart and the three
images from their own ACR (`gpufleet mirror`).
"""

ENVOY_GATEWAY_VERSION = "v1.7.0"
ENVOY_GATEWAY_CHART = "oci://docker.io/envoyproxy/gateway-helm"
ENVOY_GATEWAY_IMAGE = f"docker.io/envoyproxy/gateway:{ENVOY_GATEWAY_VERSION}"
ENVOY_PROXY_IMAGE = "docker.io/envoyproxy/envoy:distroless-v1.37.0"
ENVOY_RATELIMIT_IMAGE = "docker.io/envoyproxy/ratelimit:3fb70258"
