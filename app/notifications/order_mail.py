"""Order notifications (US-302, US-303, US-306): the notifications consumer's order.* handlers."""

from app.notifications.consumers import notifications  # noqa: F401
