#!/usr/bin/env python3
"""Validates experiment files against the JSON Schema the way an editor does: every document of
a (multi-document) YAML file on its own, with Python's `jsonschema` (draft 2020-12).

    schema_check.py SCHEMA FILE...

Prints one JSON line per document: {"file", "document" (0-based), "line" (where it starts),
"kind", "errors": [messages, the best match first]}. Exit status 0 when every document is valid,
1 otherwise, 2 when the schema itself is not a valid draft 2020-12 schema.

YAML 1.1 loaders read unquoted timestamps as datetimes; editors (YAML 1.2) and allot read them
as text, so datetimes are turned back into their text before validating.
"""
import datetime
import json
import sys

import jsonschema
import yaml


def as_text(value):
    if isinstance(value, (datetime.datetime, datetime.date)):
        text = value.isoformat()
        return text.replace("+00:00", "Z") if isinstance(value, datetime.datetime) else text
    if isinstance(value, dict):
        return {key: as_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_text(item) for item in value]
    return value


def main():
    with open(sys.argv[1], encoding="utf-8") as handle:
        schema = json.load(handle)
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        print(f"the schema is not valid: {error.message}", file=sys.stderr)
        return 2
    validator = jsonschema.Draft202012Validator(schema)
    failed = False
    for path in sys.argv[2:]:
        with open(path, encoding="utf-8") as handle:
            loader = yaml.SafeLoader(handle)
            try:
                index = 0
                while loader.check_node():
                    node = loader.get_node()
                    document = as_text(loader.construct_document(node))
                    if document is None:
                        continue
                    errors = sorted(validator.iter_errors(document), key=jsonschema.exceptions.relevance, reverse=True)
                    best = jsonschema.exceptions.best_match(validator.iter_errors(document))
                    messages = ([best.message] if best else []) + [error.message for error in errors if not best or error.message != best.message]
                    failed = failed or bool(messages)
                    print(json.dumps({"file": path, "document": index, "line": node.start_mark.line + 1,
                                      "kind": document.get("kind") if isinstance(document, dict) else None, "errors": messages}))
                    index += 1
            finally:
                loader.dispose()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
