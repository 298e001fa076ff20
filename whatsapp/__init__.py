"""The WhatsApp integration: endpoints, tenant configuration, devices and messages."""
