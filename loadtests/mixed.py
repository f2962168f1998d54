"""A production-like mix: short English chat, Chinese chat and long-context requests.

    locust -f loadtests/mixed.py --host http://127.0.0.1:8000

The mix is drawn per request (weights in loadtests/workloads.yaml), so each
record carries the workload it was drawn from.
"""

from common.users import LLMUser


class MixedUser(LLMUser):
    workload = "mixed"
