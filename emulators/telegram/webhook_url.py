"""A webhook URL as the Bot API server reads it, and what it refuses in one."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from emulators.telegram.models import ApiError

WEBHOOK_PORTS = frozenset({80, 88, 443, 8443})
INVALID_URL = "Bad Request: invalid webhook URL specified"
# What td's parse_url lets through in a host: RFC 3986's symbols, %XX and any non-ASCII.
_HOST = re.compile(r"(?:[a-z0-9._!$,~*'();&+=-]|%[0-9a-f]{2}|[^\x00-\x7f])+")


def _bad_webhook(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: bad webhook: {reason}")


@dataclass(frozen=True)
class WebhookUrl:
    """A webhook URL as the Bot API server reads it (td's parse_url): no scheme means https."""

    scheme: str
    userinfo: str
    host: str
    port: int
    # The path and query the POST asks for, as its request line carries them.
    target: str

    @classmethod
    def parse(cls, url: str) -> WebhookUrl:
        invalid = ApiError(400, INVALID_URL)
        found = re.match(r"([^:/?#@\[\]]*)://", url)
        scheme = "https" if found is None else found[1].lower()
        if scheme not in ("http", "https"):
            raise invalid
        rest = url if found is None else url[found.end() :]
        authority, *target_part = re.split(r"(?=[/?#])", rest, maxsplit=1)
        target = "".join(target_part)
        port = 0
        # The port follows the last colon that is not inside [IPv6] or the user's part.
        cut = max(authority.rfind(mark) for mark in ":]@")
        if cut > 0 and authority[cut] == ":":
            digits = authority[cut + 1 :]
            if not re.fullmatch(r"[0-9]+", digits) or not 0 < int(digits) <= 65535:
                raise invalid
            port, authority = int(digits), authority[:cut]
        userinfo, _, host = authority.rpartition("@")
        host = host.lower()
        if host.startswith("[") and host.endswith("]"):
            try:
                ipaddress.IPv6Address(host[1:-1])
            except ValueError:
                raise invalid from None
        elif host == "." or not _HOST.fullmatch(host):
            raise invalid
        target = target.rstrip(" \t\r\n\v\f\0") or "/"
        target = target if target.startswith("/") else "/" + target
        target = "".join(f"%{ord(c):02X}" if ord(c) <= 0x20 else c for c in target)
        return cls(scheme, userinfo, host, port or (80 if scheme == "http" else 443), target)

    def verify(self, ip_address: str) -> None:
        """What the server checks before it answers setWebhook; the emulator resolves no name,
        so only an IP address in the URL or in ``ip_address`` is checked."""
        if self.scheme != "https":
            raise _bad_webhook("An HTTPS URL must be provided for webhook")
        if self.port not in WEBHOOK_PORTS:
            raise _bad_webhook("Webhook can be set up only on ports 80, 88, 443 or 8443")
        try:
            address = ipaddress.ip_address(ip_address or self.host.strip("[]"))
        except ValueError:
            if ip_address:
                raise _bad_webhook("Invalid IP address specified") from None
            return
        if address.version == 6:
            raise _bad_webhook("IPv6-only addresses are not allowed")
        if not address.is_global or address.is_multicast:
            raise _bad_webhook(f"IP address {address} is reserved")

    @property
    def direct(self) -> str:
        """The URL itself, where Telegram would connect when no proxy stands in for it."""
        return f"{self.scheme}://{self.host}:{self.port}{self.target}"
