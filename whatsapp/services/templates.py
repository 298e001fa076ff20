"""Message templates: named variables ({nama}, {jam}), starter templates, rendering for sends."""

from __future__ import annotations

import re
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import ApplicationError, ErrorKind, NotFoundError
from tenants.models import Tenant
from whatsapp.models import MessageTemplate
from whatsapp.starter_templates import STARTER_TEMPLATES

MAX_BODY_CHARS = 4096
MAX_VALUE_CHARS = 500
MAX_TEMPLATES_PER_TENANT = 200
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,49}")
# A variable is {name} with a lowercase identifier; any other brace is plain text.
VARIABLE = re.compile(r"\{([a-z_][a-z0-9_]{0,39})\}")


def template_variables(body: str) -> list[str]:
    """The variables a template uses, in order of first use."""
    return list(dict.fromkeys(VARIABLE.findall(body)))


def _validate_name(name: object) -> str:
    name = name.strip().lower() if isinstance(name, str) else ""
    if not _NAME.fullmatch(name):
        raise ApplicationError(
            _("name: use 1-50 lowercase letters, digits, '-' or '_' (e.g. 'reminder')."),
            "invalid_template_name",
            kind=ErrorKind.INVALID,
        )
    return name


def _validate_body(body: object) -> str:
    if not isinstance(body, str) or not body.strip():
        raise ApplicationError(
            _("body: the template text is empty."), "empty_body", kind=ErrorKind.INVALID
        )
    if len(body) > MAX_BODY_CHARS:
        raise ApplicationError(
            _("body: the template is %(length)s characters long; the limit is %(max)s.")
            % {"length": len(body), "max": MAX_BODY_CHARS},
            "body_too_long",
            kind=ErrorKind.INVALID,
        )
    return body


def templates_seed(*, tenant: Tenant) -> int:
    """Give a tenant the starter templates it does not have yet. Returns how many were added."""
    existing = set(MessageTemplate.objects.filter(tenant=tenant).values_list("name", flat=True))
    rows = [
        MessageTemplate(tenant=tenant, name=name, body=body)
        for name, body in STARTER_TEMPLATES.items()
        if name not in existing
    ]
    MessageTemplate.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def template_get(*, tenant: Tenant, name: str) -> MessageTemplate:
    template = MessageTemplate.objects.filter(tenant=tenant, name=str(name)[:60]).first()
    if template is None:
        raise NotFoundError(f"No template named '{str(name)[:60]}'.", "template_not_found")
    return template


def template_create(*, tenant: Tenant, name: object, body: object, actor=None) -> MessageTemplate:
    name, body = _validate_name(name), _validate_body(body)
    if MessageTemplate.objects.filter(tenant=tenant).count() >= MAX_TEMPLATES_PER_TENANT:
        raise ApplicationError(
            _("A workspace can have at most %(max)s templates.")
            % {"max": MAX_TEMPLATES_PER_TENANT},
            "too_many_templates",
            kind=ErrorKind.INVALID,
        )
    try:
        with transaction.atomic():
            template = MessageTemplate.objects.create(tenant=tenant, name=name, body=body)
            audit_record(
                actor=actor, tenant=tenant, action="template.created", after={"name": name}
            )
    except IntegrityError:
        raise ApplicationError(
            _("name: a template named '%(name)s' already exists.") % {"name": name},
            "template_name_taken",
            kind=ErrorKind.CONFLICT,
        ) from None
    return template


def template_update(
    *, template: MessageTemplate, name: object = None, body: object = None, actor=None
) -> MessageTemplate:
    """Rename and/or change the text (only the fields given)."""
    before = {"name": template.name, "body": template.body}
    if name is not None:
        template.name = _validate_name(name)
    if body is not None:
        template.body = _validate_body(body)
    try:
        with transaction.atomic():
            template.save()
            audit_record(
                actor=actor,
                tenant=template.tenant,
                action="template.updated",
                before=before,
                after={"name": template.name, "body": template.body},
            )
    except IntegrityError:
        raise ApplicationError(
            _("name: a template named '%(name)s' already exists.") % {"name": template.name},
            "template_name_taken",
            kind=ErrorKind.CONFLICT,
        ) from None
    return template


def template_delete(*, template: MessageTemplate, actor=None) -> None:
    with transaction.atomic():
        audit_record(
            actor=actor,
            tenant=template.tenant,
            action="template.deleted",
            before={"name": template.name},
        )
        template.delete()


def template_render(*, tenant: Tenant, name: str, variables: Mapping[str, object] | None) -> str:
    """The text of template `name` with its variables filled in.

    Every variable the template uses must be given, and no other: a typo in a variable name
    would otherwise send a customer a message with a hole in it. Raises 422 naming the variable.
    """
    template = template_get(tenant=tenant, name=name)
    variables = dict(variables or {})
    needed = template_variables(template.body)
    unknown = [key for key in variables if key not in needed]
    if unknown:
        raise ApplicationError(
            f"variables.{str(unknown[0])[:40]}: template '{template.name}' has no such variable "
            f"(it uses {', '.join('{' + v + '}' for v in needed) or 'none'}).",
            "unknown_variable",
            kind=ErrorKind.INVALID,
        )
    missing = [key for key in needed if str(variables.get(key, "")).strip() == ""]
    if missing:
        raise ApplicationError(
            f"variables.{missing[0]}: template '{template.name}' needs a value for "
            f"{{{missing[0]}}}.",
            "missing_variable",
            kind=ErrorKind.INVALID,
        )
    values = {}
    for key, value in variables.items():
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ApplicationError(
                f"variables.{key}: give the value as text.",
                "invalid_variable",
                kind=ErrorKind.INVALID,
            )
        text = str(value)
        if len(text) > MAX_VALUE_CHARS:
            raise ApplicationError(
                f"variables.{key}: at most {MAX_VALUE_CHARS} characters.",
                "invalid_variable",
                kind=ErrorKind.INVALID,
            )
        values[key] = text
    # One pass, so a value that itself looks like {nama} is never expanded again.
    return VARIABLE.sub(lambda match: values[match.group(1)], template.body)


def message_body(
    *,
    tenant: Tenant,
    body: str | None,
    template: str | None,
    variables: Mapping[str, object] | None,
) -> str:
    """A send's text: its `body`, or its `template` rendered with `variables` (never both)."""
    if template is None:
        if variables:
            raise ApplicationError(
                "variables: only used with 'template'.", "invalid_variable", kind=ErrorKind.INVALID
            )
        if body is None:
            # The same answer as for any other missing field (it was required before templates).
            raise ApplicationError(
                "Invalid request. body: give the text in 'body', or a 'template' with its "
                "'variables'.",
                "validation_error",
                kind=ErrorKind.INVALID,
            )
        return body
    if body is not None:
        raise ApplicationError(
            "body: give either 'body' or 'template' (with 'variables'), not both.",
            "body_and_template",
            kind=ErrorKind.INVALID,
        )
    return template_render(tenant=tenant, name=template, variables=variables)
