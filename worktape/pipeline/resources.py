"""Storage and warehouse as the nightly tasks see them.

S3 settings come from the Airflow connection `worktape_s3` when it exists (login/password
as the key pair, `endpoint_url` and `region_name` in its extra), otherwise from the usual
AWS environment and WORKTAPE_S3_ENDPOINT_URL. The bucket and prefix come from the
settings' storage URL (WORKTAPE_STORAGE_URL); without it the embedded default is a local
folder under the state dir.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from worktape.core.storage import Storage, open_storage

if TYPE_CHECKING:
    from worktape.publish.narration import Narrator
    from worktape.settings import Settings

log = logging.getLogger(__name__)
AIRFLOW_CONN_ID = "worktape_s3"


def _airflow_s3_options() -> dict[str, Any]:
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(AIRFLOW_CONN_ID)
    except Exception:  # no Airflow, no task context, or no such connection
        return {}
    import boto3

    extra = conn.extra_dejson or {}
    client = boto3.client(
        "s3",
        endpoint_url=extra.get("endpoint_url") or None,
        region_name=extra.get("region_name") or None,
        aws_access_key_id=conn.login or None,
        aws_secret_access_key=conn.password or None,
    )
    log.info("S3 settings from Airflow connection %s", AIRFLOW_CONN_ID)
    return {"client": client}


def storage(settings: Settings) -> Storage:
    url = settings.storage_url
    if url.startswith("s3://"):
        options = _airflow_s3_options() or {"endpoint_url": settings.s3_endpoint_url}
        return open_storage(url, **options)
    return open_storage(url)


def narrator(settings: Settings) -> Narrator | None:
    """A model that writes instructions and step annotations, when WORKTAPE_LLM_BASE_URL
    and WORKTAPE_LLM_MODEL name one; its answers are cached under the state dir."""
    if not (settings.llm_base_url and settings.llm_model):
        return None
    from worktape.publish.narration import Endpoint, Narrator

    endpoint = Endpoint(
        settings.llm_base_url,
        settings.llm_model,
        api_key=settings.llm_api_key,
        timeout_s=settings.llm_timeout_s,
        send_frames=settings.llm_send_frames,
    )
    return Narrator(
        endpoint, settings.home / "narration-cache", max_calls=settings.llm_max_episodes
    )
