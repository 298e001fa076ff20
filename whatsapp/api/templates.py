"""API: message templates with named variables ({nama}, {jam}, ...)."""

from __future__ import annotations

from ninja import Router, Schema, Status
from pydantic import Field

from core.audit import request_actor as actor
from whatsapp import selectors_tenant as reads
from whatsapp.api.common import acting_tenant, iso
from whatsapp.api.schemas import ERRORS, SuccessOut
from whatsapp.models import MessageTemplate
from whatsapp.services import templates as template_services

router = Router(tags=["templates"])


class TemplateIn(Schema):
    name: str = Field(description="1-50 of a-z, 0-9, '-', '_'; how sends refer to it.")
    body: str = Field(description="The text; {nama}, {jam}... are variables filled in per send.")


class TemplatePatch(Schema):
    name: str | None = Field(None, description="A new name (optional).")
    body: str | None = Field(None, description="The new text (optional).")


class TemplateOut(Schema):
    name: str
    body: str
    variables: list[str] = Field(description="The variables the body uses, in order of first use.")
    updated_at: str | None = Field(description="ISO 8601")


class TemplateEnvelope(Schema):
    template: TemplateOut


class TemplateListOut(Schema):
    templates: list[TemplateOut]


def template_as_dict(template: MessageTemplate) -> dict:
    return {
        "name": template.name,
        "body": template.body,
        "variables": template_services.template_variables(template.body),
        "updated_at": iso(template.updated_at),
    }


@router.get("/templates", response={200: TemplateListOut, **ERRORS})
def template_list(request):
    """The workspace's templates, with the variables each one needs."""
    tenant = acting_tenant(request)
    return {"templates": [template_as_dict(t) for t in reads.tenant_templates(tenant=tenant)]}


@router.post("/templates", response={201: TemplateEnvelope, **ERRORS})
def template_create(request, payload: TemplateIn):
    tenant = acting_tenant(request, admin=True)
    template = template_services.template_create(
        tenant=tenant, name=payload.name, body=payload.body, actor=actor(request)
    )
    return Status(201, {"template": template_as_dict(template)})


@router.patch("/templates/{name}", response={200: TemplateEnvelope, **ERRORS})
def template_update(request, name: str, payload: TemplatePatch):
    """Change a template's body and/or name (give only what changes)."""
    tenant = acting_tenant(request, admin=True)
    template = template_services.template_update(
        template=template_services.template_get(tenant=tenant, name=name),
        name=payload.name,
        body=payload.body,
        actor=actor(request),
    )
    return {"template": template_as_dict(template)}


@router.delete("/templates/{name}", response={200: SuccessOut, **ERRORS})
def template_delete(request, name: str):
    tenant = acting_tenant(request, admin=True)
    template_services.template_delete(
        template=template_services.template_get(tenant=tenant, name=name), actor=actor(request)
    )
    return {"success": True}
