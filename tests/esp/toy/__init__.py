"""A third ESP, as small as the contract allows: the proof that adding an ESP is one package
and one registry line (tests/cli/test_adding_an_esp.py). It has no API, so no adapter and
no emulator; ``validate``, ``plan`` and ``schema`` need neither."""
