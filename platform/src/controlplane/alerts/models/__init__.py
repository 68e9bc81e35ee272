"""Models of the alerts app: channels and rules per project, and the alerts they produced with each delivery."""

from controlplane.alerts.models.channels import Channel, ChannelKind
from controlplane.alerts.models.deliveries import Alert, Delivery, DeliveryAttempt, DeliveryState
from controlplane.alerts.models.rules import AlertEvent, Rule

__all__ = ["Alert", "AlertEvent", "Channel", "ChannelKind", "Delivery", "DeliveryAttempt", "DeliveryState", "Rule"]
