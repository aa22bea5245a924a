"""Calls that are not callers: the doctor's self-check and the web phone's trial calls.

Both reach the webhooks and are recorded like any call, marked as checks (`is_check` in the
call store), so the report can leave them out of what callers did and show them apart.
"""

from flask import g

#: The CallSid of `ivr doctor`'s self-check request: a recognisable fake, never a real call's.
SELF_CHECK_CALL_SID = "CA" + "5e1fc4ec" + "0" * 24
#: Twilio's magic test number: the "caller" of the self-check.
SELF_CHECK_FROM = "+15005550006"


def is_check(values) -> bool:
    """Whether the webhook request with these parameters is a check, not a caller: the
    self-check's CallSid, or a request the web phone's pass let in (security.check)."""
    return bool(g.get("way_in")) or values.get("CallSid") == SELF_CHECK_CALL_SID
