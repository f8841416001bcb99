"""Files as a source: a glob under a folder, read with DuckDB, new and changed files only.

``resource`` lists the files and picks the new ones (``state``), a reader per format turns
them into SELECTs of one schema (``csv_files``, ``jsonl_files``, ``whole_files``) and reports
the rows it could not read as rejects.
"""
