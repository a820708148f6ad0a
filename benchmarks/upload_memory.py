"""Measure the page's memory when it reads an upload: peak RSS of reading the file's bytes through the page's
reader (`ui.batch.read_clients`, what the Batch and Monitoring tabs do), each case in a fresh process.

python -m benchmarks.upload_memory [--data FILE]

Cases: the largest CSV the page takes (MAX_UPLOAD_ROWS generated clients), a 200,000-row CSV (refused for its
size), a 0.3 MB .xlsx whose sheet expands to 200,000 rows (refused by the expansion bound) and, with --data, the
real file. Files go to a temporary folder only. Prints one line per case: outcome, peak RSS and the rise over
the process's RSS after imports (MiB).
"""

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Final

from benchmarks.results import ROOT
from training.synthetic import generate_rows, to_dataset_csv
from ui.limits import MAX_UPLOAD_ROWS

CHILD: Final = """
import json, resource, sys
from ui import batch
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
data = open(sys.argv[1], "rb").read()
try:
    outcome = f"read {len(batch.read_clients(data, name=sys.argv[2]).applicants):,} clients"
except batch.UnreadableFileError as err:
    outcome = "refused: " + str(err).split(";")[0]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"outcome": outcome, "peak_mib": peak / 1024, "rise_mib": (peak - base) / 1024}))
"""


HEADER, BODY = to_dataset_csv(generate_rows(1_000, seed=6)).split("\n", 1)  # the tests build the same files


def csv_of(rows: int) -> bytes:
    """A client CSV of `rows` data rows (1,000 generated clients repeated)."""
    lines = BODY.rstrip("\n").split("\n")
    body = "\n".join(lines[k % len(lines)] for k in range(rows))
    return (HEADER + "\n" + body + "\n").encode()


def bomb_xlsx(rows: int) -> bytes:
    """A small .xlsx whose one sheet inflates to `rows` rows of 25 cells (written in a stream)."""
    row = "".join(f"<c><v>{k}</v></c>" for k in range(25))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(b"<worksheet><sheetData>")
            block = (f"<row>{row}</row>" * 1_000).encode()
            for _ in range(rows // 1_000):
                sheet.write(block)
            sheet.write(b"</sheetData></worksheet>")
    return buffer.getvalue()


def write_cases(folder: Path, data: Path | None) -> dict[str, Path]:
    """Write the case files into `folder`; return them by name."""
    cases = {
        f"csv-{MAX_UPLOAD_ROWS}-rows.csv": csv_of(MAX_UPLOAD_ROWS),
        "csv-200000-rows.csv": csv_of(200_000),
        "xlsx-expanding-to-200000-rows.xlsx": bomb_xlsx(200_000),
    }
    paths = {}
    for name, content in cases.items():
        (folder / name).write_bytes(content)
        paths[name] = folder / name
    if data is not None:
        paths[data.name] = data
    return paths


def main() -> None:
    """Measure each case in a fresh process and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="the real client file, measured too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for name, path in write_cases(Path(folder), args.data).items():
            run = subprocess.run(
                [sys.executable, "-c", CHILD, str(path), name],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            figures = json.loads(run.stdout)
            size = path.stat().st_size / 2**20
            print(
                f"{name} ({size:.1f} MB): {figures['outcome']}; peak RSS {figures['peak_mib']:.0f} MiB, "
                f"+{figures['rise_mib']:.0f} MiB over imports"
            )
    print(f"this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
