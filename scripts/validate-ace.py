#!/usr/bin/env python3
"""Validates ACE exports (GET /v1/applications/{id}/ace, `sandpiper ace export`) against the
Partner Central models botocore ships: each CreateOpportunity body against
partnercentral-selling's CreateOpportunity input shape, each CreateBenefitApplication body against
partnercentral-benefits' CreateBenefitApplication input shape.

Two checks, both over botocore's own model objects:
  1. botocore.validate.ParamValidator, exactly what `aws ... --cli-input-json` and boto3 run before
     sending: unknown members, missing required members, types, minimum lengths.
  2. What ParamValidator leaves to the service: enum values, maximum lengths and list sizes, and
     patterns. Patterns are applied as full matches, as the models' authors mean them
     (`(?s).{0,120}` is a length limit). A pattern Python cannot compile is reported, never skipped.

Usage (with the venv scripts/install-deps makes):
  .tools/venv/bin/python scripts/validate-ace.py EXPORT.json [...]
  .tools/venv/bin/python scripts/validate-ace.py --operation create-opportunity BODY.json
A file holds one export, or a JSON array of exports; `-` reads standard input. `--operation` takes
bare bodies (what `sandpiper ace export ID --operation …` prints). Exit status: 0 when every body is
valid, 1 when one is not (each error listed), 2 when the input or botocore is missing.
"""

import argparse
import json
import re
import sys

try:
    import botocore
    import botocore.session
    from botocore.validate import ParamValidator
except ImportError as err:  # pragma: no cover - the message is the point
    print(f"validate-ace: botocore is not importable ({err}); run scripts/install-deps", file=sys.stderr)
    sys.exit(2)

OPERATIONS = {
    "create-opportunity": ("create_opportunity", "partnercentral-selling", "CreateOpportunity"),
    "create-benefit-application": (
        "create_benefit_application",
        "partnercentral-benefits",
        "CreateBenefitApplication",
    ),
}


def input_shape(session, service, operation, cache={}):
    key = (service, operation)
    if key not in cache:
        cache[key] = session.get_service_model(service).operation_model(operation).input_shape
    return cache[key]


def strict_errors(value, shape, path):
    """Enum, max length, list size and pattern violations, which ParamValidator does not check."""
    errors = []
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        if getattr(shape, "is_document_type", False):
            return errors
        for name, member in shape.members.items():
            if name in value:
                errors += strict_errors(value[name], member, f"{path}.{name}")
    elif kind == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: {len(value)} items, at most {meta['max']} allowed")
        for i, item in enumerate(value):
            errors += strict_errors(item, shape.member, f"{path}[{i}]")
    elif kind == "map" and isinstance(value, dict):
        for k, v in value.items():
            errors += strict_errors(k, shape.key, f"{path} key {k!r}")
            errors += strict_errors(v, shape.value, f"{path}[{k!r}]")
    elif kind == "string" and isinstance(value, str):
        enum = getattr(shape, "enum", None) or []
        if enum and value not in enum:
            shown = enum if len(enum) <= 12 else enum[:12] + [f"... {len(enum) - 12} more"]
            errors.append(f"{path}: {value!r} is not one of the model's values {shown}")
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: {len(value)} characters, at most {meta['max']} allowed")
        pattern = meta.get("pattern")
        if pattern is not None:
            try:
                matched = re.fullmatch(pattern, value) is not None
            except re.error as err:
                errors.append(f"{path}: the model's pattern {pattern!r} cannot be checked here ({err})")
            else:
                if not matched:
                    shown = value if len(value) <= 80 else value[:77] + "..."
                    errors.append(f"{path}: {shown!r} does not match the model's pattern {pattern!r}")
    return errors


def validate_body(session, operation, body):
    _, service, name = OPERATIONS[operation]
    shape = input_shape(session, service, name)
    errors = []
    report = ParamValidator().validate(body, shape)
    if report.has_errors():
        errors += [line.strip() for line in report.generate_report().splitlines() if line.strip()]
        errors = [e for e in errors if not e.startswith("Parameter validation failed")]
    errors += strict_errors(body, shape, name)
    return errors


def bodies(document, operation, source):
    """(label, operation, body) for every body in one input document."""
    items = document if isinstance(document, list) else [document]
    for index, item in enumerate(items):
        where = f"{source}[{index}]" if isinstance(document, list) else source
        if operation is not None:
            yield where, operation, item
            continue
        if not isinstance(item, dict):
            yield where, None, f"an export is a JSON object, not {type(item).__name__}"
            continue
        label = item.get("application_id", where)
        for op, (member, _, _) in OPERATIONS.items():
            if member not in item:
                yield label, None, f"the export has no {member}"
            else:
                yield label, op, item[member]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", help="export JSON files ('-' for standard input)")
    parser.add_argument("--operation", choices=sorted(OPERATIONS), help="the files hold bare bodies of this operation")
    parser.add_argument("--quiet", action="store_true", help="print only errors and the summary")
    args = parser.parse_args()

    session = botocore.session.get_session()
    for _, service, name in OPERATIONS.values():
        try:
            input_shape(session, service, name)
        except Exception as err:  # an old botocore without the model
            print(f"validate-ace: botocore {botocore.__version__} has no {service} {name}: {err}", file=sys.stderr)
            return 2

    checked = failed = 0
    for path in args.files:
        try:
            text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
            document = json.loads(text)
        except (OSError, ValueError) as err:
            print(f"validate-ace: cannot read {path}: {err}", file=sys.stderr)
            return 2
        for label, operation, body in bodies(document, args.operation, path):
            if operation is None:
                failed += 1
                print(f"INVALID {label}: {body}")
                continue
            checked += 1
            errors = validate_body(session, operation, body)
            if errors:
                failed += 1
                print(f"INVALID {label} {OPERATIONS[operation][2]}:")
                for error in errors:
                    print(f"  - {error}")
            elif not args.quiet:
                print(f"ok {label} {OPERATIONS[operation][2]}")
    verdict = "all valid" if failed == 0 else f"{failed} invalid"
    print(f"validate-ace: {checked} bodies checked against botocore {botocore.__version__}'s models: {verdict}")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
