# step: China stack rehearsal: a clean answer with its AI-generated labels, a refused prompt, an output cut mid-stream
set -euo pipefail
# The stack's own moderation settings, the real Alibaba Cloud SDK, a local stand-in for the Green API; 127.0.0.1 only.
.venv/bin/python -m gpufleet.moderation.demo --stack prod-cn-hangzhou
