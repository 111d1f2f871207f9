"""How close bedrock_local's input-token counts come to what Bedrock reports, per kind of input.

Each row sends one request through boto3 CountTokens to the in-process emulator (the real
botocore path) and compares the count with a published or measured figure for the same input:

  text      Anthropic's token-counting docs example (system "You are a scientist",
            user "Hello, Claude": 14 input tokens)
  tools     one weather tool, Claude: the tool-use system prompt (Anthropic's table: 346 on
            Claude 4.x, auto) plus the tool; measured ~375 in CountTokens on real Claude
            (/work/shared/FACTS.md); Claude 3 Haiku with toolChoice any: 340 + tool
  image     Anthropic's vision docs table (200x200 -> ~54, 1000x1000 -> ~1,334,
            1092x1092 -> ~1,590 tokens); a small image on Nova ~1,800 (FACTS.md, measured)
  document  a small 2-page PDF ~5,600 tokens (FACTS.md, measured; page count assumed)

Ratio = ours / reference; the target is within 25% (0.75-1.25).  Figures of the "image" and
tool-prompt rows are encoded in catalogue.json, so those ratios show the formula's fidelity,
not an independent measurement; the text row is the chars/4 estimator against a real tokenizer.

    python benchmarks/token_overheads.py
"""
from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import result  # noqa: E402

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

from bedrock_local import Emulator  # noqa: E402

HAIKU45 = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
HAIKU3 = "anthropic.claude-3-haiku-20240307-v1:0"
NOVA = "amazon.nova-pro-v1:0"
WEATHER = {"toolSpec": {"name": "get_weather", "description": "Get the current weather in a given location",
                        "inputSchema": {"json": {"type": "object", "properties": {
                            "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"}},
                            "required": ["location"]}}}}


def png(width: int, height: int) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    raw = b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def pdf(pages: int) -> bytes:
    kids = " ".join(f"{3 + i} 0 R" for i in range(pages))
    objs = [f"1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj", f"2 0 obj<</Type/Pages/Kids[{kids}]/Count {pages}>>endobj"]
    objs += [f"{3 + i} 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj" for i in range(pages)]
    return ("%PDF-1.4\n" + "\n".join(objs) + "\ntrailer<</Root 1 0 R>>\n%%EOF\n").encode()


def user(*blocks):
    return [{"role": "user", "content": list(blocks)}]


ROWS = [
    # (row, model, converse input, reference tokens, reference source)
    ("text: 'Hello, Claude' + system", HAIKU45,
     {"system": [{"text": "You are a scientist"}], "messages": user({"text": "Hello, Claude"})},
     14, "Anthropic token counting docs example"),
    ("tools: 1 tool, auto (Claude 4.x)", HAIKU45,
     {"messages": user({"text": "What is the weather like in San Francisco?"}), "toolConfig": {"tools": [WEATHER]}},
     375, "FACTS.md: one tool ~375 in CountTokens on real Claude"),
    ("tools: 1 tool, any (Claude 3 Haiku)", HAIKU3,
     {"messages": user({"text": "What is the weather like in San Francisco?"}),
      "toolConfig": {"tools": [WEATHER], "toolChoice": {"any": {}}}},
     340 + 60, "Anthropic tool-use table (340) + ~60 for the tool JSON and question (estimate)"),
    ("image: 200x200 png (Claude)", HAIKU45,
     {"messages": user({"text": "?"}, {"image": {"format": "png", "source": {"bytes": png(200, 200)}}})},
     54 + 4, "Anthropic vision docs (~54) + the question and framing"),
    ("image: 1000x1000 png (Claude)", HAIKU45,
     {"messages": user({"text": "?"}, {"image": {"format": "png", "source": {"bytes": png(1000, 1000)}}})},
     1334 + 4, "Anthropic vision docs (~1,334)"),
    ("image: small png (Nova)", NOVA,
     {"messages": user({"text": "?"}, {"image": {"format": "png", "source": {"bytes": png(64, 64)}}})},
     1800, "FACTS.md: small image ~1,800 on Nova (measured)"),
    ("document: 2-page pdf (Claude)", HAIKU45,
     {"messages": user({"text": "Summarize."}, {"document": {"format": "pdf", "name": "mini",
                                                            "source": {"bytes": pdf(2)}}})},
     5600, "FACTS.md: small PDF ~5,600 (measured; 2 pages assumed)"),
    ("document: 2-page pdf (Nova)", NOVA,
     {"messages": user({"text": "Summarize."}, {"document": {"format": "pdf", "name": "mini",
                                                            "source": {"bytes": pdf(2)}}})},
     5600, "FACTS.md: small PDF ~5,600 (measured; 2 pages assumed)"),
]


def main() -> int:
    emu = Emulator(lifecycle=False)  # Claude 3 Haiku is end of life in us-east-1; counts still apply
    session = boto3.Session(aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1")
    client = emu.attach(session.client("bedrock-runtime", config=Config(retries={"total_max_attempts": 1})))
    print(f"{'row':38} {'ours':>7} {'ref':>7} {'ratio':>6}  reference")
    worst = 1.0
    for name, model, request, ref, source in ROWS:
        ours = client.count_tokens(modelId=model, input={"converse": request})["inputTokens"]
        ratio = ours / ref
        worst = max(worst, ratio, 1 / ratio) if ratio else float("inf")
        flag = "" if 0.75 <= ratio <= 1.25 else "  <-- outside 25%"
        print(f"{name:38} {ours:7d} {ref:7d} {ratio:6.2f}  {source}{flag}")
        result("token_overheads", f"input tokens, {name}", ours, "tokens", baseline=f"{ref} ({source})",
               ratio=ratio, goal="0.75-1.25", ok=0.75 <= ratio <= 1.25)
    print(f"\nworst ratio (max of r, 1/r): {worst:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
