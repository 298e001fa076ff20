"""API: the number check (is a phone on WhatsApp?)."""

from __future__ import annotations

from ninja import Query, Router, Schema
from pydantic import Field

from whatsapp.api.common import acting_tenant, iso
from whatsapp.api.schemas import ERRORS
from whatsapp.services import contacts as contact_services

router = Router(tags=["contacts"])


class PhoneQuery(Schema):
    phone: str = Field(description="+6281234567890, 081234567890 or 6281234567890")


class ContactCheckOut(Schema):
    phone: str = Field(description="E.164")
    on_whatsapp: bool
    checked_at: str | None = Field(description="ISO 8601; answers are remembered for a day.")


@router.get("/contacts/check", response={200: ContactCheckOut, **ERRORS})
def contact_check(request, query: Query[PhoneQuery]):
    """Is this number on WhatsApp? Asked through a connected device; remembered for a day."""
    tenant = acting_tenant(request)
    result = contact_services.contact_check(tenant=tenant, phone=query.phone)
    return {
        "phone": result["phone"],
        "on_whatsapp": result["on_whatsapp"],
        "checked_at": iso(result["checked_at"]),
    }
