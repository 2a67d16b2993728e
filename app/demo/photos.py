"""Generated pictures standing in for the workers' photos in the demo."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw
from werkzeug.datastructures import FileStorage

from app.orders.models import Order
from app.platform.uploads import save_photo


def order_photo(order: Order, kind: str) -> str:
    """A small generated picture standing in for the worker's photo."""
    colour = (124, 58, 237) if kind == "checkin" else (15, 123, 74)
    image = Image.new("RGB", (480, 360), colour)
    draw = ImageDraw.Draw(image)
    label = "Check-in" if kind == "checkin" else "Signed report"
    draw.rectangle((20, 20, 460, 340), outline=(255, 255, 255), width=4)
    draw.text((40, 40), f"{label}\norder #{order.id}\n{order.service_type.name}", fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    buffer.seek(0)
    return save_photo(FileStorage(buffer, filename=f"{kind}.png"), f"orders/{order.id}")
