"""Provider sandboxes: real local servers in the shape of FCM, APNs, SNS, SES, Twilio and SMTP.

`herald sandbox run` serves them (see docs/delivery.md); `SandboxControl` reads what arrived and
injects faults; `SandboxProcess` with the profile `on_free_ports` runs a private one.
"""

from lab.sandboxes.client import SandboxControl
from lab.sandboxes.config import on_free_ports, on_ports
from lab.sandboxes.models import PROVIDERS, Fault, Provider, Received

__all__ = [
    "PROVIDERS",
    "Fault",
    "Provider",
    "Received",
    "SandboxControl",
    "on_free_ports",
    "on_ports",
]
