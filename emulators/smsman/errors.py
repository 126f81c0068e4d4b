"""Error answers of the emulated control API, including the codes the emulator had to choose."""

# SMS-man sends `error_msg` either as a string or as an object keyed by parameter name.
ErrorMsg = str | dict[str, str]


class ApiError(Exception):
    """An answer in SMS-man's error envelope; the HTTP status stays 200."""

    def __init__(self, code: str, msg: ErrorMsg) -> None:
        super().__init__(code, msg)
        self.code = code
        self.msg = msg

    def body(self) -> dict[str, object]:
        return {"success": False, "error_code": self.code, "error_msg": self.msg}


def wrong_token(*, plain: bool) -> ApiError:
    # Documented: a plain string on get-balance, an object keyed by field everywhere else.
    return ApiError("wrong_token", "Wrong token!" if plain else {"token": "Wrong token!"})


def no_numbers() -> ApiError:
    # The code is SMS-man's; the message text is unknown, this one is the emulator's.
    return ApiError("no_numbers", "No free numbers")


def low_balance() -> ApiError:
    # The code is SMS-man's ("balance", not "no_balance"); the message text is the emulator's.
    return ApiError("balance", "Not enough balance")


def wrong_country_id() -> ApiError:
    # Unknown in reality: code and text are the emulator's, keyed by field like the
    # documented parameter errors.
    return ApiError("wrong_country_id", {"country_id": "Wrong country_id!"})


def wrong_application_id() -> ApiError:
    # Unknown in reality, see wrong_country_id.
    return ApiError("wrong_application_id", {"application_id": "Wrong application_id!"})


def wrong_param(name: str, text: str) -> ApiError:
    # Unknown in reality: the emulator's code for an unparsable maxPrice, currency or
    # hasMultipleSms.
    return ApiError("wrong_params", {name: text})


def request_not_found() -> ApiError:
    # The text is what SMS-man answers for an expired request; the code is the emulator's.
    return ApiError("wrong_request_id", "Current request not exists")


def wrong_status() -> ApiError:
    # Seen in one third-party client only; the emulator uses it for every refused status.
    return ApiError("wrong_status", "Invalid status transition")


def too_many_requests() -> ApiError:
    # Emulator choice, answered with HTTP 429: SMS-man documents no rate limit, nor a refusal.
    return ApiError("too_many_requests", "Too many requests, slow down")
