"""segsync: keep customer micro-segments in sync with Mailchimp and Klaviyo."""

__version__ = "0.1.0"
