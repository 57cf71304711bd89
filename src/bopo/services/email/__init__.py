"""Back-order emails: writing them, keeping them true, the outbox and the mailer."""
