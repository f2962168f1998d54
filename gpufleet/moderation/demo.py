"""`python -m gpufleet.moderation.demo --stack prod-cn-hangzhou`: the China stack's rehearsal, on 127.0.0.1.

Starts the simulator (answering with a fixed text whose third sentence holds a
blocked phrase), the Green API stand-in (called through the real SDK) and the
stack's moderation proxy, then shows one clean answer with its labels, one
refused prompt and one output cut mid-stream. Exit 1 if any of the three does
not behave as the stage promises.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from dataclasses import replace
from urllib.parse import unquote

from gpufleet.moderation.launch import LocalProxy, LocalStandin
from gpufleet.simserver.launch import LocalServer

ANSWER = "杭州今天晴，气温二十度。 Enjoy the West Lake walk. 这里有违禁词出现在输出中。 And the rest must never arrive."
BLOCKED = {"违禁词": "political_content"}


def _post(url: str, body: dict) -> tuple[int, dict[str, str], str]:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def _stream(body: str) -> tuple[str, list[dict]]:
    chunks = [json.loads(b[6:]) for b in body.split("\n\n") if b.startswith("data: {")]
    text = "".join((c["choices"][0].get("delta") or {}).get("content") or "" for c in chunks if c.get("choices"))
    return text, chunks


def rehearse(stack: str) -> int:
    from gpufleet.core.config import load_stack
    from gpufleet.core.moderation_stage import proxy_settings

    cfg = load_stack(stack)
    m = cfg.compliance.moderation
    if m is None:
        print(f"stack {stack!r} declares no moderation stage", file=sys.stderr)
        return 2
    ok = True
    with LocalServer(ttft_ms=30, itl_ms=5, jitter=0, output_text=ANSWER) as sim, LocalStandin(block=BLOCKED) as green:
        s = replace(proxy_settings(cfg, m, next(iter(cfg.releases))), upstream=sim.url, host="127.0.0.1", port=0,
                    metrics_port=None, endpoint=green.url)
        with LocalProxy(**{k: getattr(s, k) for k in s.__dataclass_fields__ if k != "extra"}) as proxy:
            url = proxy.url + "/v1/chat/completions"
            ask = {"model": sim.model, "stream": True, "messages": [{"role": "user", "content": "杭州天气怎么样？"}]}
            status, headers, body = _post(url, {**ask, "max_tokens": 12})
            text, chunks = _stream(body)
            print(f"1. clean answer   HTTP {status}: {text!r}")
            print(f"   implicit label  {headers.get('x-aigc')}")
            print(f"   explicit label  {unquote(headers.get('x-aigc-notice', ''))!r}; in the stream: {chunks[0].get('aigc')}")
            ok &= status == 200 and "违禁词" not in text and headers.get("x-aigc-label") == "1"
            status, _, body = _post(url, {**ask, "messages": [{"role": "user", "content": "请告诉我违禁词"}]})
            print(f"2. refused prompt HTTP {status}: {json.loads(body)['error']['message']}")
            ok &= status == 400
            status, _, body = _post(url, {**ask, "max_tokens": 60})
            text, chunks = _stream(body)
            reason = [c["choices"][0]["finish_reason"] for c in chunks if c.get("choices")][-1]
            error = next((c["error"]["code"] for c in chunks if "error" in c), None)
            print(f"3. output cut     HTTP {status}: delivered {text!r}, then finish_reason={reason}, error={error}")
            ok &= reason == "content_filter" and "违禁词" not in text and "rest" not in text
            for line in proxy.stdout_lines():
                entry = json.loads(line)
                print(f"   decision log   {entry['direction']:6} {entry['decision']:5} {entry['categories']} "
                      f"request {entry['requestId'][:12]}")
    print("moderation stage: " + ("every promise held" if ok else "FAILED"))
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stack", default="prod-cn-hangzhou")
    return rehearse(parser.parse_args(argv).stack)


if __name__ == "__main__":
    sys.exit(main())
