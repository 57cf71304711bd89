"""The web UI: server-rendered pages for the back office, on the same app and services as the API.

Pages read with GET and change things only with POST forms that carry the
session's CSRF token; every action goes Post/Redirect/Get with a message that
says what happened.
"""
