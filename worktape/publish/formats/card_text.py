"""The card's sections on the splits and the training formats, from the card's data
(`splits`, `split_method`, `formats`: `worktape.publish.formats.write_formats` puts
them there). A card without them (a version from before) gets no such sections."""

from __future__ import annotations

from typing import Any


def markdown_lines(card: dict[str, Any]) -> list[str]:
    splits = card.get("splits")
    formats = card.get("formats")
    if not splits or not formats:
        return []
    mb = int(formats["shard_bytes"]) / 1e6
    size = f"{mb:,.0f} MB" if mb >= 1 else f"{int(formats['shard_bytes']):,} bytes"
    return [
        "## Splits",
        "",
        "By contributor: no contributor is in two splits, and each keeps their split from "
        "one version to the next. A contributor's split is decided by their id alone: "
        f"{card.get('split_method', '')}.",
        "",
        "| split | fraction | contributors | episodes | steps | images | hf shards | wds shards |",
        "|---|---|---|---|---|---|---|---|",
        *[
            f"| {s['name']} | {s['fraction']:g} | {s['contributors']:,} | {s['episodes']:,} "
            f"| {s['steps']:,} | {s['images']:,} | {s['hf_shards']} | {s['wds_shards']} |"
            for s in splits
        ],
        "",
        "## Training formats",
        "",
        "The records of `dataset/episodes.jsonl`, one row per step, each with the screen "
        "before its action embedded (only frames in `frames.parquet`, which the gate "
        f"passed), in shards of about {size}, per split:",
        "",
        f"- `{formats['hf']}/<split>-00000-of-0000N.parquet`: Hugging Face Parquet; `image` "
        'is a `datasets` Image: `load_dataset("parquet", data_files=...)` decodes it.',
        f"- `{formats['wds']}/<split>-000000.tar`: WebDataset, a sample per step: "
        "`<step_id>.json` (the row) and `<step_id>.webp` (the image).",
        "- `worktape export --format hf|wds|agentnet --out DIR` writes one of them out.",
        "",
    ]
