"""Rules of the command and query APIs that JSON Schema cannot state, told to schemathesis.

scripts/schemathesis loads this module (SCHEMATHESIS_HOOKS) before a run.
"""

import schemathesis


@schemathesis.hook
def filter_body(ctx, body):
    """An order names each sku on one line only (docs/domain.md: "no sku twice").

    JSON Schema can require unique items but not items unique by one member, so the
    document cannot say it and schemathesis would take a 400 validation_failed for such an
    order as a service that refuses valid data. Orders that repeat a sku are left out of
    generation; command-service/tests/api/ checks that they get that 400.
    """
    if not isinstance(body, dict) or not isinstance(body.get("lines"), list):
        return True
    skus = [line.get("sku") for line in body["lines"] if isinstance(line, dict)]
    named = [sku for sku in skus if isinstance(sku, str)]
    return len(named) == len(set(named))


def _instant(raw, end_of_day):
    """A `from`/`to` value as the query API reads it: a date means its start (`from`) or
    its end (`to`), UTC; otherwise an RFC 3339 instant. None when it is neither."""
    from datetime import datetime, time, timezone

    try:
        if len(raw) == 10:
            day = datetime.strptime(raw, "%Y-%m-%d").date()
            return datetime.combine(day, time.max if end_of_day else time.min, timezone.utc)
        instant = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return instant if instant.tzinfo else None
    except ValueError:
        return None


@schemathesis.hook
def filter_query(ctx, query):
    """Sales and movements are asked for over a period that does not end before it starts.

    `from` after `to` is 400 invalid_parameter (docs/api.md), a rule between two parameters
    that JSON Schema cannot state; such periods are left out of generation, and
    query-service/tests/api/ checks their 400.
    """
    if not isinstance(query, dict):
        return True
    start, end = query.get("from"), query.get("to")
    if not isinstance(start, str) or not isinstance(end, str):
        return True
    start, end = _instant(start, False), _instant(end, True)
    return start is None or end is None or start <= end
