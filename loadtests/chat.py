"""Short English chat turns against an OpenAI-compatible endpoint (streamed).

    locust -f loadtests/chat.py --host http://127.0.0.1:8000

opens the web UI with sane defaults (closed loop, model from /v1/models, no
end). `gpufleet loadtest` runs it headless with exact statistics and the SLO
gate; see docs/loadtest.md for every --gpufleet-* option.
"""

from common.users import LLMUser


class ShortChatUser(LLMUser):
    workload = "short_chat"
