"""Rules of the command API that JSON Schema cannot state, told to schemathesis.

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
