"""Each adapter's mapping of Telegram's refusals onto the port's typed errors, for the refusals the
contract suite's Telegrams cannot all produce (an expired file reference, a forbidden delete,
each wording the Bot API has used)."""

from __future__ import annotations

import pytest
from pyrogram import errors
from python_socks import ProxyError

from core.telegram._botapi_errors import error_from
from core.telegram._mtproto_errors import translate
from core.telegram.port import BadRequest, MessageGone, StaleFileId, TelegramError, Transient


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (errors.MessageIdInvalid(), MessageGone),
        (errors.MessageDeleteForbidden(), MessageGone),
        (errors.MessageEditTimeExpired(), MessageGone),
        (errors.MessageAuthorRequired(), MessageGone),
        (errors.FileReferenceExpired(), StaleFileId),
        (errors.FileReferenceInvalid(), StaleFileId),
        (errors.FileReferenceExpiredX(0), StaleFileId),
        (errors.FileIdInvalid(), StaleFileId),
        (errors.MediaEmpty(), StaleFileId),
        (errors.MessageEmpty(), BadRequest),  # a refusal of the bot's own making stays a BadRequest
        (ProxyError("general SOCKS server failure"), Transient),  # the proxy cannot reach Telegram
    ],
)
def test_mtproto_refusals(exc, expected):
    mapped = translate(exc)
    assert type(mapped) is expected, mapped


def test_mtproto_leaves_a_bug_as_it_is():
    bug = KeyError("id")
    assert translate(bug) is bug


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("Bad Request: message to edit not found", MessageGone),
        ("Bad Request: message to delete not found", MessageGone),
        ("Bad Request: message can't be deleted for everyone", MessageGone),
        ("Bad Request: message can't be edited", MessageGone),
        ("Bad Request: message to copy not found", MessageGone),
        ("Bad Request: MESSAGE_ID_INVALID", MessageGone),
        ("Bad Request: wrong file identifier/HTTP URL specified", StaleFileId),
        ("Bad Request: wrong remote file identifier specified: wrong string length", StaleFileId),
        ("Bad Request: FILE_REFERENCE_EXPIRED", StaleFileId),
        ("Bad Request: message to be replied not found", BadRequest),
        ("Bad Request: message text is empty", BadRequest),
    ],
)
def test_botapi_refusals(description, expected):
    mapped: TelegramError = error_from("sendVideo", 400, {"ok": False, "error_code": 400, "description": description})
    assert type(mapped) is expected, mapped
    assert description in str(mapped)
