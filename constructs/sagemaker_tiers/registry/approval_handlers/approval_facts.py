"""What the review page shows besides the package itself: metric values and the group's versions.

- Metrics: each report registered in the package's ModelMetrics is read from S3, at most
  ``REPORT_MAX_BYTES`` (a ranged GetObject), one attempt with short timeouts, and only from the bucket the
  workflow was given (env METRICS_BUCKET); numbers are taken from the two JSON shapes this project meets:
  the training tier's report (``{"finalMetrics": [{"name", "value"}]}``) and SageMaker's model quality
  statistics (``{"<problem>_metrics": {"<metric>": {"value": ...}}}``), else the top-level numbers. A report
  that cannot be read says why; the page never fails because of a report.
- Group state: the approved-model and deployed-model parameters under PARAMETER_PREFIX (``NONE`` or a
  missing parameter: none; a failed read: unknown).
"""

from __future__ import annotations

import json
import math
import os
import urllib.parse
from typing import Any

import boto3
from botocore.config import Config

import approval_common as common
import approval_pages as pages
from approval_common import logger

REPORT_MAX_BYTES = 64 * 1024
MAX_REPORTS = 4
MAX_METRICS_PER_REPORT = 12
_S3_CONFIG = Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=2, read_timeout=3)


def _s3() -> Any:
    found = common.process_cache.get("s3-reports")
    if found is None:
        found = boto3.client("s3", config=_S3_CONFIG)
        common.process_cache["s3-reports"] = found
    return found


def _number(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return f"{value:.4g}"


def extract_metrics(document: Any) -> list[pages.Metric]:
    """Metric values from a report document (see the module docstring), at most ``MAX_METRICS_PER_REPORT``."""
    found: list[pages.Metric] = []
    if isinstance(document, dict) and isinstance(document.get("finalMetrics"), list):
        for item in document["finalMetrics"]:
            if isinstance(item, dict) and isinstance(item.get("name"), str) and (text := _number(item.get("value"))):
                found.append(pages.Metric(item["name"], text))
    elif isinstance(document, dict) and any(k.endswith("_metrics") and isinstance(v, dict) for k, v in document.items()):
        for section, metrics in sorted(document.items()):
            if not (section.endswith("_metrics") and isinstance(metrics, dict)):
                continue
            for name, entry in sorted(metrics.items()):
                value = entry.get("value") if isinstance(entry, dict) else entry
                if text := _number(value):
                    found.append(pages.Metric(name, text))
    elif isinstance(document, dict):
        for name, value in sorted(document.items()):
            if text := _number(value):
                found.append(pages.Metric(str(name), text))
    return found[:MAX_METRICS_PER_REPORT]


def console_url(bucket: str, key: str, region: str) -> str:
    query = urllib.parse.urlencode({"region": region, "prefix": key})
    return f"https://s3.console.aws.amazon.com/s3/object/{urllib.parse.quote(bucket)}?{query}"


def read_report(label: str, uri: str, metrics_bucket: str | None, region: str) -> pages.Report:
    parsed = urllib.parse.urlsplit(uri)
    bucket, key = parsed.netloc, parsed.path.lstrip("/")
    if parsed.scheme != "s3" or not bucket or not key:
        return pages.Report(label, uri, None, problem="Not an S3 location.")
    link = console_url(bucket, key, region)
    if metrics_bucket is None or bucket != metrics_bucket:
        return pages.Report(label, uri, link, problem="This report is outside the bucket the approval service may read.")
    try:
        response = _s3().get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{REPORT_MAX_BYTES - 1}")
        raw = response["Body"].read(REPORT_MAX_BYTES + 1)
    except Exception as exc:
        logger.warning("metrics report not readable", uri=uri, error=common.error_code(exc) or type(exc).__name__)
        return pages.Report(label, uri, link, problem="The report could not be read just now.")
    total = str(response.get("ContentRange") or "").rpartition("/")[2]
    if len(raw) > REPORT_MAX_BYTES or (total.isdigit() and int(total) > REPORT_MAX_BYTES):
        return pages.Report(label, uri, link, problem=f"The report is larger than {REPORT_MAX_BYTES // 1024} KiB; open it in full.")
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return pages.Report(label, uri, link, problem="The report is not JSON; open it in full.")
    metrics = extract_metrics(document)
    return pages.Report(label, uri, link, tuple(metrics), None if metrics else "The report holds no metric values.")


def reports(package: dict[str, Any], metrics_bucket: str | None) -> tuple[pages.Report, ...]:
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    locations = common.metrics_report_locations(package.get("ModelMetrics"))[:MAX_REPORTS]
    return tuple(read_report(label, uri, metrics_bucket, region) for label, uri in locations)


def _parameter(name: str) -> str | None:
    """The parameter's package ARN; None when none (missing or NONE); "" when it could not be read."""
    try:
        value = common.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
    except Exception as exc:
        if common.error_code(exc) == "ParameterNotFound":
            return None
        logger.warning("parameter not readable", parameter=name, error=common.error_code(exc) or type(exc).__name__)
        return ""
    return None if value == "NONE" else value


def group_state(parameter_prefix: str, group: str) -> pages.GroupState:
    return pages.GroupState(
        approved=_parameter(f"{parameter_prefix}/{group}/approved-model"),
        serving=_parameter(f"{parameter_prefix}/{group}/deployed-model"),
    )
