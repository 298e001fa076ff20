"""Template tags for the booking-product pieces of pages (quick replies from templates)."""

from __future__ import annotations

from django import template

from whatsapp.models import Conversation, MessageTemplate
from whatsapp.services.templates import template_variables

register = template.Library()

# Variables a quick reply can fill in from the conversation itself.
KNOWN_FROM_CONVERSATION = {"nama": "contact_name"}


@register.simple_tag
def quick_reply_templates(conversation: Conversation) -> list[dict]:
    """The tenant's templates, each with its variables and what the thread already knows."""
    rows = []
    for item in MessageTemplate.objects.filter(tenant_id=conversation.tenant_id):
        variables = [
            {
                "name": name,
                "value": getattr(conversation, KNOWN_FROM_CONVERSATION.get(name, ""), "") or "",
            }
            for name in template_variables(item.body)
        ]
        rows.append({"name": item.name, "body": item.body, "variables": variables})
    return rows
