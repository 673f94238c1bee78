"""Mailchimp: everything segsync knows about it, found through ``connector.esp.registry``.

adapter.py   MailchimpAdapter (mailchimp-marketing SDK)
client.py    the SDK's ApiClient sending through our HTTP client
errors.py    problem+json messages, per-member error classification
"""
