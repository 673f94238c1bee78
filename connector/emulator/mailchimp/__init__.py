"""The Mailchimp Marketing API 3.0 emulator (``segsync emulator mailchimp``)."""

from connector.emulator.mailchimp.account import MailchimpState, Member, Segment, subscriber_hash

__all__ = ["MailchimpState", "Member", "Segment", "subscriber_hash"]
