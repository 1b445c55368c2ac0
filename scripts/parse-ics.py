#!/usr/bin/env python3
"""Parses an iCalendar (RFC 5545) file with the `icalendar` package (pinned by scripts/install-deps)
and prints its VEVENTs as JSON, so the calendar feed tests check what a real parser reads rather
than what the server meant to write.

Usage (with the venv scripts/install-deps makes):
  .tools/venv/bin/python scripts/parse-ics.py FEED.ics      (`-` reads standard input)
Prints {"icalendar": VERSION, "calendar": {...}, "events": [...]}: each event's UID, SUMMARY,
DESCRIPTION (unescaped, unfolded), DTSTART/DTEND (ISO 8601; `all_day` for VALUE=DATE), SEQUENCE,
STATUS, DTSTAMP, LAST-MODIFIED and CATEGORIES. Exit status: 0 when parsed, 1 when the parser
refuses the input, 2 when icalendar or the input is missing.
"""

import datetime
import json
import sys

try:
    import icalendar
except ImportError:
    print("parse-ics: icalendar is not installed; run scripts/install-deps", file=sys.stderr)
    sys.exit(2)


def when(value):
    if value is None:
        return None, None
    dt = value.dt
    if isinstance(dt, datetime.datetime):
        return dt.isoformat(), False
    return dt.isoformat(), True


def text(component, name):
    value = component.get(name)
    return None if value is None else str(value)


def categories(component):
    value = component.get("CATEGORIES")
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    return [str(c) for v in values for c in v.cats]


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    path = sys.argv[1]
    try:
        data = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()
    except OSError as err:
        print(f"parse-ics: {err}", file=sys.stderr)
        return 2
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except Exception as err:  # the parser's refusal is the finding
        print(f"parse-ics: not a valid calendar: {err}", file=sys.stderr)
        return 1
    events = []
    for event in calendar.walk("VEVENT"):
        start, all_day = when(event.get("DTSTART"))
        end, _ = when(event.get("DTEND"))
        stamp, _ = when(event.get("DTSTAMP"))
        modified, _ = when(event.get("LAST-MODIFIED"))
        sequence = event.get("SEQUENCE")
        events.append(
            {
                "uid": text(event, "UID"),
                "summary": text(event, "SUMMARY"),
                "description": text(event, "DESCRIPTION"),
                "dtstart": start,
                "dtend": end,
                "all_day": all_day,
                "sequence": None if sequence is None else int(sequence),
                "status": text(event, "STATUS"),
                "dtstamp": stamp,
                "last_modified": modified,
                "categories": categories(event),
            }
        )
    print(
        json.dumps(
            {
                "icalendar": icalendar.__version__,
                "calendar": {
                    "version": text(calendar, "VERSION"),
                    "prodid": text(calendar, "PRODID"),
                    "name": text(calendar, "X-WR-CALNAME"),
                },
                "events": events,
            },
            indent=1,
            ensure_ascii=False,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
