"""The full export of a municipality's data (SO-16): a background job writing a zip of CSVs to the export
storage, its download page, and the clean-up of expired files."""
