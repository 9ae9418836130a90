"""The delivery side: the outbox, the runner, and sending over SMTP.

Reads SmtpSettings, Users and EmailTemplates from the store, never from manifests, and
must not import the manifest or plan code. Queue an email with
`reconciler.delivery.enqueue.enqueue`.
"""
