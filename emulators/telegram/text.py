"""A message text as Telegram reads it: parse mode, given entities, clean-up and length limit."""

from __future__ import annotations

from emulators.telegram.entities import EmptyTextError, normalize
from emulators.telegram.html import Entity, HtmlParseError, UserLookup, check_url, parse_html
from emulators.telegram.models import ApiError, ApiObject

MAX_TEXT_LENGTH = 4096
# Telegram finds these itself, so it ignores them in a bot's entities.
_FOUND_TYPES = frozenset({"url", "mention", "hashtag", "bot_command", "email", "cashtag"})


def read_text(params: ApiObject, lookup_user: UserLookup) -> tuple[str, list[Entity], str | None]:
    """The text and entities before Telegram's clean-up, and the HTML source if any.

    These are the checks the Bot API server makes before it even looks at the chat.
    """
    text = params.get("text")
    if not isinstance(text, str) or not text:
        raise ApiError(400, "Bad Request: message text is empty")
    try:
        text.encode()
    except UnicodeEncodeError:
        raise ApiError(400, "Bad Request: strings must be encoded in UTF-8") from None
    mode = str(params.get("parse_mode") or "").lower()
    if mode == "html":
        try:
            plain, entities = parse_html(text, lookup_user)
        except HtmlParseError as error:
            raise ApiError(400, f"Bad Request: can't parse entities: {error}") from None
        return plain, entities, text
    if mode in ("markdown", "markdownv2"):
        raise ApiError(400, f"Bad Request: the emulator does not implement parse_mode {mode}")
    if mode not in ("", "none"):
        raise ApiError(400, "Bad Request: unsupported parse_mode")
    return text, _given_entities(params.get("entities"), lookup_user), None


def _given_entities(raw: object, lookup_user: UserLookup) -> list[Entity]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
        raise ApiError(400, "Bad Request: can't parse entities JSON object")
    entities: list[Entity] = []
    for entity in raw:
        offset, length, kind = entity.get("offset"), entity.get("length"), entity.get("type")
        if not isinstance(offset, int) or not isinstance(length, int) or offset < 0:
            raise ApiError(400, "Bad Request: can't parse MessageEntity JSON object")
        base: Entity = {"type": kind, "offset": offset, "length": length}
        if kind == "text_link":
            url = check_url(str(entity.get("url", "")))
            entities += [base | {"url": url}] if url is not None else []
        elif kind == "text_mention":
            user = entity.get("user")
            user_id = user.get("id") if isinstance(user, dict) else None
            found = lookup_user(user_id) if isinstance(user_id, int) else None
            entities += [base | {"user": found}] if found is not None else []
        elif length > 0 and kind not in _FOUND_TYPES:
            entities.append(dict(entity))
    return entities


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def finish_text(plain: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """The text and entities Telegram stores, after its clean-up and length check."""
    try:
        text, entities = normalize(plain, entities)
    except EmptyTextError:
        raise ApiError(400, "Bad Request: message text is empty") from None
    # The Bot API server counts code points (TDLib's utf8_length); what Telegram's own servers
    # count after it is documented only as "4096 characters". UTF-16 code units, the way
    # Telegram measures entities, are never fewer than code points: what passes here passes
    # both counts.
    if utf16_length(text) > MAX_TEXT_LENGTH:
        raise ApiError(400, "Bad Request: message is too long")
    return text, entities
