"""The small exception hierarchy the SMS-man client raises; texts never carry the token."""

from __future__ import annotations


class SmsManError(Exception):
    """The provider refused a request, or could not be understood or reached."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class WrongToken(SmsManError):
    """The API token is missing or not accepted."""


class NoNumbers(SmsManError):
    """No free numbers for this country and app (or none at or below maxPrice)."""


class LowBalance(SmsManError):
    """The SMS-man account has too little money for this purchase."""


class RequestNotFound(SmsManError):
    """The request id is unknown to the provider: expired, finished or never existed."""


class WrongStatus(SmsManError):
    """The provider refused a status change for this request."""


class ProviderUnavailable(SmsManError):
    """Network error, timeout, 5xx or an answer that is not the JSON we expect.

    `outcome_unknown` is true when the request may have reached the provider, so a purchase may
    have happened even though we did not hear about it.
    """

    def __init__(self, message: str, *, outcome_unknown: bool = True) -> None:
        super().__init__(message)
        self.outcome_unknown = outcome_unknown


class ProviderTimeout(ProviderUnavailable):
    """The provider did not answer within the client's timeout."""


class RateLimited(ProviderUnavailable):
    """SMS-man refused the request for our request rate (HTTP 429): it was not carried out."""

    def __init__(self, message: str) -> None:
        super().__init__(message, outcome_unknown=False)
