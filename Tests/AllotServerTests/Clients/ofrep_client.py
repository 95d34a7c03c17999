#!/usr/bin/env python3
"""Evaluates flags through the real OpenFeature Python SDK and its OFREP provider.

Usage: ofrep_client.py BASE_URL < cases.json > results.json

cases.json is a list of {"type": "boolean"|"string"|"integer"|"float"|"object", "flag": KEY,
"default": VALUE, "context": {"targetingKey": ..., ...} or null}. For each case the script prints
what the SDK returned: value, variant, reason, error_code, error_message and flag_metadata, as one
JSON list in the same order. The Swift test (OFREPPythonClientTests) compares them with the
library's answers.
"""
import json
import sys

from openfeature import api
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext


def main() -> int:
    base_url = sys.argv[1]
    cases = json.load(sys.stdin)
    api.set_provider(OFREPProvider(base_url=base_url, timeout=30.0))
    client = api.get_client()
    methods = {
        "boolean": client.get_boolean_details,
        "string": client.get_string_details,
        "integer": client.get_integer_details,
        "float": client.get_float_details,
        "object": client.get_object_details,
    }
    results = []
    for case in cases:
        context = case.get("context")
        evaluation_context = None
        if context is not None:
            attributes = {k: v for k, v in context.items() if k != "targetingKey"}
            evaluation_context = EvaluationContext(targeting_key=context.get("targetingKey"), attributes=attributes)
        details = methods[case["type"]](case["flag"], case["default"], evaluation_context)
        results.append(
            {
                "flag": details.flag_key,
                "value": details.value,
                "variant": details.variant,
                "reason": str(details.reason.value) if hasattr(details.reason, "value") else details.reason,
                "error_code": details.error_code.value if details.error_code is not None else None,
                "error_message": details.error_message,
                "flag_metadata": dict(details.flag_metadata or {}),
            }
        )
    json.dump(results, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
