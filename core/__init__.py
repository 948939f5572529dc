"""The neutral core: what features, the store and the platforms share, and nothing else.

- ``events`` — the neutral event and reply types (``Incoming``, ``Reply``, ``Button`` …)
- ``transport`` — the transport protocol, its capabilities and its neutral errors
- ``scope`` — the send scope that keys the messages of one event or job run
- ``i18n`` — gettext catalogs and Babel formatting in the person's language
- ``markup`` — the safe HTML subset of replies
- ``clock`` — time, in UTC and Europe/Helsinki

Layers point one way (``tests/test_layers.py``): ``core`` imports nothing of the bot;
``storage`` imports only ``core``; ``handlers`` (the features) import ``core`` and ``storage``;
``bot`` (platforms, the scheduler, the composition root, the CLI) may import all of them.
"""
