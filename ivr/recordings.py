"""Messages' recordings on Twilio: deleted through twilio's `Client` (the Recordings
resource, https://www.twilio.com/docs/voice/api/recording#delete-a-recording-resource) when
they are too short to keep, and by `ivr db prune` once older than IVR_RETENTION_DAYS. Only
recordings the call store holds (or that a signed request just reported) are ever deleted.
"""

import logging

log = logging.getLogger(__name__)

#: Twilio's error code for a resource that is not there (deleted already).
NOT_FOUND = 20404


class Recordings:
    """Deletes recordings of the account `account_sid` (twilio's Client, through
    `http_client` when given: the tests' seam)."""

    def __init__(self, account_sid: str, auth_token: str, http_client=None, timeout: float = 10):
        # Imported here: twilio's REST client weighs on every worker's memory.
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        self.client = Client(account_sid, auth_token,
                             http_client=http_client or TwilioHttpClient(timeout=timeout))

    def delete(self, sid: str) -> bool:
        """Delete recording `sid`: True when deleted now, False when it was gone already.
        Any other failure raises (twilio's TwilioRestException, requests' errors)."""
        from twilio.base.exceptions import TwilioRestException

        try:
            self.client.recordings(sid).delete()
        except TwilioRestException as e:
            if e.code == NOT_FOUND or e.status == 404:
                return False
            raise
        return True


def from_settings(settings, http_client=None) -> "Recordings | None":
    """The recordings client the settings allow: None without TWILIO_ACCOUNT_SID and
    TWILIO_AUTH_TOKEN."""
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        return None
    return Recordings(settings.twilio_account_sid, settings.twilio_auth_token,
                      http_client or settings.twilio_http_client)
