"""`smtpcfg probe` and `plan --probe`: which SmtpSettings to probe, and the report.

The probing itself is delivery's (`reconciler.delivery.probe`, over delivery's own
transport); this package picks the settings from manifests, the store or a plan, which
delivery may not read, and renders what was found.
"""
