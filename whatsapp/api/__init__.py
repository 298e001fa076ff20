"""The WhatsApp JSON API (mounted at /api/whatsapp/ on the platform host and on tenant hosts)."""

from ninja import Router

from whatsapp.api import config, devices, messages

router = Router()
router.add_router("", config.router)
router.add_router("", devices.router)
router.add_router("", messages.router)
