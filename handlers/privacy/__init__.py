"""My data and forget me: a person's data across chats, as a JSON file and a short summary
(``/omattiedot``), and erasing it after a confirmation (``/unohdaminut``).

``commands`` declares the feature; ``keys`` the confirmation button; ``render`` is pure;
``flow`` holds the handlers. The queries are in storage/privacy.py."""

from handlers.privacy.commands import FEATURE

__all__ = ["FEATURE"]
