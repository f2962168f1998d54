"""Retrieval-style prompts of 2k-6k tokens with a question at the end (streamed).

    locust -f loadtests/long_context.py --host http://127.0.0.1:8000
"""

from common.users import LLMUser


class LongContextUser(LLMUser):
    workload = "long_context"
