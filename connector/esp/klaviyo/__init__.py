"""Klaviyo: everything segsync knows about it, found through ``connector.esp.registry``.

adapter.py   KlaviyoAdapter (klaviyo-api SDK)
client.py    the SDK's REST client replaced by our HTTP client, retry off
errors.py    JSON:API error messages, import errors
imports.py   bulk profile import jobs (submit, poll, refused profiles)
shapes.py    routes, rate tiers, request/response shapes
ids.py       the email → profile id map
"""
