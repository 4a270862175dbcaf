#!/bin/sh
# One-shot setup for a worktape deployment: Airflow's metadata DB, the bucket, the S3
# connection the DAGs read their storage from, and the one-slot writer pool. Safe to run
# again: every step is create-or-update.
set -eu

airflow db migrate

python - <<'PY'
import os
import boto3
from botocore.exceptions import ClientError

s3 = boto3.client("s3", endpoint_url=os.environ["WORKTAPE_S3_ENDPOINT_URL"])
try:
    s3.create_bucket(Bucket="worktape")
    print("created bucket worktape")
except ClientError as e:
    if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
        raise
    print("bucket worktape exists")
PY

airflow connections delete worktape_s3 >/dev/null 2>&1 || true
airflow connections add worktape_s3 \
    --conn-type aws \
    --conn-login "${AWS_ACCESS_KEY_ID}" \
    --conn-password "${AWS_SECRET_ACCESS_KEY}" \
    --conn-extra "{\"endpoint_url\": \"${WORKTAPE_S3_ENDPOINT_URL}\", \"region_name\": \"${AWS_DEFAULT_REGION}\"}"

airflow pools set duckdb_writer 1 \
    "DuckDB allows one writer process: every task that opens the warehouse file runs here"

mkdir -p /var/lib/worktape/warehouse
echo "worktape init done"
