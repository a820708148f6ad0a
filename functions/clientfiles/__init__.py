"""Every reader of a client file: layout rules (encoding, delimiter, header rows, twin columns), checked rows,
whole-file and streaming readers, a book's records read by the command and split by its workers.

May import `functions.scoring` (the contract) and the root modules (config, telemetry, aws).
"""

__all__ = ["cells", "chunks", "layout", "records", "rows"]
