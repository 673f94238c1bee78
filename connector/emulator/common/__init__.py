"""What the Mailchimp and Klaviyo emulators share above the gateway: the refusal every
handler raises and its one exception handler, JSON answers, the handlers' context, the
Starlette app around the routes, and request bodies checked against a published
contract."""
