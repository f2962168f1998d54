"""Chinese-language chat turns with a long-tailed prompt length (streamed).

    locust -f loadtests/chinese_chat.py --host http://127.0.0.1:8000
"""

from common.users import LLMUser


class ChineseChatUser(LLMUser):
    workload = "chinese_chat"
