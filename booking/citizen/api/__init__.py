"""The citizen JSON API (`/api/v1/`, DRF); errors as `{"code", "message"}` via `madoguchi.api_errors`."""
