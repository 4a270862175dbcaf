"""The dataset card, in one place: its data (`card.json`) and its text (`CARD.md`).

The publisher computes the data from the warehouse and the gate (`card_data`); the
text is rendered from that data alone (`render_markdown`), and `write_card` writes both.
An erasure reads `card.json`, updates the data (`after_erasure`) and writes both again:
nothing here parses Markdown.

    card.json   name, work_dates, contributors, counts, consent_policy_versions,
                pixel_masking, quality, schema; and `erasures`, how many contributors
                were erased from the version, once there was one
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb

from worktape.publish.stage import TABLES
from worktape.warehouse import one

ERASED_ONE = "One contributor's data was erased from this version at their request."


def mart_descriptions(project: Path) -> dict[str, dict[str, str]]:
    """Each published mart's column descriptions, {table: {column: text}}: from the
    manifest of the dbt build that made the marts (`project`/target/manifest.json), else
    from the models' yml. The marts' columns are a contract (dbt_project/models/marts)."""
    manifest = project / "target" / "manifest.json"
    if manifest.exists():
        nodes = json.loads(manifest.read_text()).get("nodes", {})
        models = {
            n["name"]: n.get("columns", {})
            for n in nodes.values()
            if n.get("resource_type") == "model" and n["name"] in TABLES
        }
        return {
            t: {c: (col.get("description") or "").strip() for c, col in cols.items()}
            for t, cols in models.items()
        }
    import yaml  # type: ignore[import-untyped]  # PyYAML ships no types

    doc = yaml.safe_load((project / "models" / "marts" / "_models.yml").read_text())
    return {
        m["name"]: {c["name"]: (c.get("description") or "").strip() for c in m.get("columns", [])}
        for m in doc.get("models", [])
        if m["name"] in TABLES
    }


def card_data(
    con: duckdb.DuckDBPyConnection,
    counts: dict[str, int],
    gate: Any,
    dbt_project: Path,
) -> dict[str, Any]:
    """The card of a version being published, from the warehouse's marts and raw
    bundles and the gate's results (`gate.per_suite`)."""
    policies = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT consent_policy_version FROM raw.bundles ORDER BY 1"
        ).fetchall()
    ]
    span = one(con.execute("SELECT min(work_date), max(work_date) FROM marts.episodes"))
    people = one(con.execute("SELECT count(DISTINCT contributor_id) FROM marts.episodes"))[0]
    described = mart_descriptions(dbt_project)
    schema = {
        t: [
            {"name": c, "type": ty, "description": described.get(t, {}).get(c, "")}
            for c, ty in con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'marts' AND table_name = ? ORDER BY ordinal_position",
                [t],
            ).fetchall()
        ]
        for t in TABLES
    }
    quality = {name: {"passed": p, "expectations": n} for name, (p, n) in gate.per_suite.items()}
    return {
        "name": "worktape dataset",
        "work_dates": [str(span[0]), str(span[1])],
        "contributors": people,
        "counts": counts,
        "consent_policy_versions": policies,
        "pixel_masking": pixel_masking(con),
        "quality": quality,
        "schema": schema,
    }


def after_erasure(card: dict[str, Any], counts: dict[str, int]) -> dict[str, Any]:
    """The card of a version rewritten without one contributor: its new row counts, one
    contributor fewer, one erasure more."""
    return {
        **card,
        "counts": counts,
        "contributors": max(0, int(card.get("contributors", 1)) - 1),
        "erasures": int(card.get("erasures", 0)) + 1,
    }


def read_card(out: Path) -> dict[str, Any]:
    card: dict[str, Any] = json.loads((out / "card.json").read_text())
    return card


def write_card(out: Path, card: dict[str, Any]) -> None:
    """`card.json` and `CARD.md` in `out`, both from `card`."""
    (out / "card.json").write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    (out / "CARD.md").write_text(render_markdown(card))


def _in_order(items: dict[str, Any], order: list[str]) -> list[tuple[str, Any]]:
    """`items` with the names `order` knows first, in its order, then the rest as given
    (card.json sorts its keys: the order is the pipeline's, not the file's)."""
    rank = {name: i for i, name in enumerate(order)}
    return sorted(items.items(), key=lambda kv: rank.get(kv[0], len(rank)))


def _suite_order() -> list[str]:
    from expectations.suites import suites

    return [s.name for s in suites()]


def _formats_lines(card: dict[str, Any]) -> list[str]:
    # imported here: worktape.publish.formats writes cards with this module
    from worktape.publish.formats.card_text import markdown_lines

    return markdown_lines(card)


def _has_elements(card: dict[str, Any]) -> bool:
    """Whether the version's steps name the element acted on (a version published before
    they did is rendered again, after an erasure, as it was)."""
    steps = card.get("schema", {}).get("steps", [])
    return any(c.get("name") == "element_role" for c in steps)


def texts_lines(texts: dict[str, Any] | None) -> list[str]:
    """Who wrote the instructions and step texts: the templates, or a model (which, for
    how many episodes, and why any fell back to the templates)."""
    if not texts:
        return []
    lines = ["## Instructions and step texts", ""]
    lines.append(
        "Each step's `action` and each episode's `instruction` are written by templates "
        "from what was recorded: the app and page, the element acted on, the typed text "
        "(redactions kept as `<redacted:rule>`)."
    )
    if texts.get("source") == "model":
        fell = texts.get("fell_back") or {}
        why = ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in fell.items())
        lines.append(
            f"A model, {texts['endpoint']}, rewrote the instruction and wrote each step's "
            f"`observation`, `thought` and `reflection` for "
            f"{texts['by_model']} of {texts['episodes']} episode(s)"
            + (f"; the others keep the templates ({why})." if fell else ".")
        )
        lines.append(
            "Its text was held to the same privacy rules as every other text before publishing."
        )
    else:
        lines.append("No model wrote any text: `observation`, `thought` and `reflection` are null.")
    return [*lines, ""]


def render_markdown(card: dict[str, Any]) -> str:
    """CARD.md, from the card's data alone: tables in the order they are published,
    suites in the order the gate runs them."""
    first, last = card["work_dates"]
    policies = card["consent_policy_versions"]
    counts = _in_order(card["counts"], list(TABLES))
    quality = _in_order(card["quality"], _suite_order())
    lines = [
        "# worktape dataset",
        "",
        f"Work dates {first} to {last}, {card['contributors']} contributor(s), captured under "
        f"consent policy version(s) {', '.join(p or 'unknown' for p in policies)}.",
        "",
        "## Contents",
        "",
        "| table | rows |",
        "|---|---|",
        *[f"| {t} | {n:,} |" for t, n in counts],
        "",
        "- `tables/`: the marts as Parquet (schema in card.json).",
        "- `dataset/episodes.jsonl`: one record per episode, AgentNet style: `task_id`,",
        "  `instruction`, and `traj`, the steps with a frame (`image`, relative to",
        *(
            [
                "  `published/`), the action in words (`action`) and as pyautogui code",
                "  (`code`), and the element the action acted on (`element`: its",
                "  accessibility role, name and bounds in pixels; null where the",
                "  application named none).",
            ]
            if card.get("texts") and _has_elements(card)
            else [
                "  `published/`), the action in words (`action`) and as pyautogui code",
                "  (`code`).",
            ]
            if card.get("texts")
            else [
                "  `published/`), a pyautogui action code and the element the action acted",
                "  on (`element`: its accessibility role, name and bounds in pixels; null",
                "  where the application named none).",
            ]
            if _has_elements(card)
            else ["  `published/`) and a pyautogui action code."]
        ),
        "- `eventlogs/`: XES and OCEL 2.0 logs of the same episodes.",
        "",
        *texts_lines(card.get("texts")),
        *_formats_lines(card),
        "## Quality",
        "",
        "| suite | passed |",
        "|---|---|",
        *[f"| {s} | {q['passed']}/{q['expectations']} |" for s, q in quality],
        "",
        "Typed secrets, e-mail addresses, card and phone numbers and tokens were redacted on",
        "the contributors' laptops, and the privacy suite found none in any text here.",
        "",
        *own_names_lines(card["pixel_masking"]),
        *pixel_masking_lines(card["pixel_masking"]),
    ]
    # the last line, as the erasure's line was before the card was rendered from data
    erasures = int(card.get("erasures", 0))
    if erasures == 1:
        lines[-1:] = [ERASED_ONE, ""]
    elif erasures > 1:
        lines[-1:] = [
            f"{erasures} contributors' data was erased from this version at their request.",
            "",
        ]
    return "\n".join(lines)


def pixel_masking(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """How the bundles' frames were masked on the laptops, from their manifests: windows
    masked (rule denylist_windows), masking turned off by an explicit setting
    (pixel_masking_off), or neither (agents before window masking, and the simulator);
    and the same for text on screen (screen_text, text_masking_off); and the bundles
    whose titles and frames had the contributor's own names taken out (own_names)."""
    row = one(
        con.execute(
            """
        SELECT count(*) FILTER (WHERE list_contains(r, 'denylist_windows')),
               count(*) FILTER (WHERE list_contains(r, 'pixel_masking_off')),
               count(*) FILTER (WHERE NOT list_contains(r, 'denylist_windows')
                                  AND NOT list_contains(r, 'pixel_masking_off')),
               count(*) FILTER (WHERE list_contains(r, 'screen_text')),
               count(*) FILTER (WHERE list_contains(r, 'text_masking_off')),
               count(*) FILTER (WHERE NOT list_contains(r, 'screen_text')
                                  AND NOT list_contains(r, 'text_masking_off')),
               count(*) FILTER (WHERE list_contains(r, 'own_names')),
               count(*)
        FROM (SELECT coalesce(CAST(redaction -> '$.rules' AS VARCHAR[]), []) AS r
              FROM raw.bundles)
        """
        )
    )
    return {
        "windows_masked": row[0],
        "masking_off": row[1],
        "not_recorded": row[2],
        "text_masked": row[3],
        "text_masking_off": row[4],
        "text_not_recorded": row[5],
        "own_names": row[6],
        "bundles": row[7],
    }


def own_names_lines(pixels: dict[str, int]) -> list[str]:
    """Contributors and devices go by salted hashes; what the laptops did so that titles
    and frames do not name them anyway."""
    done, total = pixels.get("own_names", 0), pixels.get("bundles", 0)
    lines = ["Contributors and devices are named by salted hashes."]
    if done:
        lines += [
            f"In the window titles and element names of {done:,} of {total:,} bundle(s), "
            "and in their frames where text on screen was read, the laptops also replaced "
            "the contributor's `login@host` with `<user>@<host>` and their home directory "
            "with `~`.",
        ]
    if total > done:
        lines += [
            f"The titles and frames of {total - done:,} bundle(s) (agents from before this, or "
            "the simulator) may show the contributor's `login@host` or home directory.",
        ]
    return [*lines, ""]


def pixel_masking_lines(pixels: dict[str, int]) -> list[str]:
    lines = [
        "Frames: on the laptops, windows the denylist covers were painted out of every frame",
        f"of {pixels['windows_masked']:,} bundle(s).",
    ]
    if pixels["masking_off"]:
        lines += [
            f"**{pixels['masking_off']:,} bundle(s) were captured with window masking turned "
            "off** (`privacy.mask_windows = false`): their frames may show denylisted "
            "windows.",
        ]
    if pixels["not_recorded"]:
        lines += [
            f"{pixels['not_recorded']:,} bundle(s) do not say (an agent from before window "
            "masking, or the simulator).",
        ]
    lines += [
        "",
        "Text on screen: the laptops read the text of every stored frame (OCR, at full "
        "resolution) and painted out e-mail addresses, card numbers, phone numbers, tokens "
        f"and configured patterns in the frames of {pixels['text_masked']:,} bundle(s).",
    ]
    if pixels["text_masking_off"]:
        lines += [
            f"**{pixels['text_masking_off']:,} bundle(s) were captured with text masking "
            "turned off** (`privacy.mask_text = false`): their frames may show such text.",
        ]
    if pixels["text_not_recorded"]:
        lines += [
            f"{pixels['text_not_recorded']:,} bundle(s) do not say (an agent from before text "
            "masking, or the simulator).",
        ]
    lines += [
        "Each night the privacy gate reads the text of a sample of the frames it publishes "
        "for the first time, with the same reader and rules, and publishes nothing on a "
        "finding. By default the sample catches a leak in 1% of those frames with 99% "
        "probability; the night's report says how many frames it read.",
    ]
    lines += [
        "What can still leak: text too small or too stylised to read, handwriting, and "
        "faces or other images of people.",
        "",
    ]
    return lines
