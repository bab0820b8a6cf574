"""How the OpenAPI schema (/api/schema/) describes the two bearer-token schemes."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class CitizenTokenScheme(OpenApiAuthenticationExtension):
    target_class = "booking.citizen.api.auth.CitizenTokenAuthentication"
    name = "citizenToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "POST /api/v1/citizen/sessions/ の token"}


class StaffTokenScheme(OpenApiAuthenticationExtension):
    target_class = "booking.access.gate.StaffTokenAuthentication"
    name = "staffToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "POST /api/v1/staff/sessions/ の token"}
