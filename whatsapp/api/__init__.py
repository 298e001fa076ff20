"""The WhatsApp JSON API (mounted at /api/whatsapp/ on the platform host and on tenant hosts)."""

from ninja import Router

from whatsapp.api import config, contacts, devices, events, messages, templates

router = Router()
router.add_router("", config.router)
router.add_router("", devices.router)
router.add_router("", messages.router)
router.add_router("", events.router)
router.add_router("", templates.router)
router.add_router("", contacts.router)
