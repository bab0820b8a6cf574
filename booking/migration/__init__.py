"""Moving a municipality from its current system (SO-20): the legacy files read by
`integrations.legacy_import`, interpreted here (`parsing`, `records`), checked across rows (`consistency`) and
written in one transaction (`importer`); a dry run is the same import rolled back."""
