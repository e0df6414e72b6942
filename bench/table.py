#!/usr/bin/env python3
"""Print the JSON results of several ``bench/load.py`` runs side by side.

    python3 bench/table.py off.json on.json sync.json

Each file is what ``load.py --json-out`` wrote; its ``label`` names the row.
"""

import json
import sys

COLUMNS = [
    # (heading, key, format)
    ("requests", "requests", "{:d}"),
    ("errors", "errors", "{:d}"),
    ("p50 ms", "p50_ms", "{:.2f}"),
    ("p99 ms", "p99_ms", "{:.2f}"),
    ("req/s", "rps", "{:.1f}"),
]


def format_table(results):
    """*results* (load.py figures with a ``label``) as an aligned table."""
    rows = [["variant"] + [heading for heading, _, _ in COLUMNS]]
    for result in results:
        rows.append(
            [result.get("label") or result["url"]]
            + [fmt.format(result[key]) for _, key, fmt in COLUMNS]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for number, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])]
        cells += [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:])
        ]
        lines.append("  ".join(cells))
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def main(paths):
    """Print the table of the result files in *paths*; the exit status."""
    if not paths:
        print("usage: table.py RESULT.json...", file=sys.stderr)
        return 2
    results = []
    for path in paths:
        with open(path, encoding="utf-8") as file:
            results.append(json.load(file))
    print(format_table(results))
    for result in results:
        if result.get("first_error"):
            label = result.get("label")
            print(f"{label}: first error: {result['first_error']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
