"""The supplies consumer: a kit request and a cookie request for every matched order."""

from app.events import Consumer

supplies = Consumer("supplies")
