"""Channel senders: one module per kind of channel, behind one `Sender` interface (senders.base)."""

from controlplane.alerts.senders.base import DeliveryError, Sender, sender_for

__all__ = ["DeliveryError", "Sender", "sender_for"]
