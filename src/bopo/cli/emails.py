"""`bopo` commands: email templates, PO line status changes, the outbox and the mailer."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from bopo.cli.common import (
    JsonOpt,
    actor,
    app,
    err,
    fail,
    handled_errors,
    open_context,
    out,
    print_json,
    purchase_app,
    status_app,
)
from bopo.services.common.serial import to_json
from bopo.services.email import mailer, outbox, templates
from bopo.services.supply import catalog, status_change

# --- email templates, PO line status changes, the outbox and the mailer ----------------

templates_app = typer.Typer(help="Email templates (system data), rendered in a sandbox.")
emails_app = typer.Typer(help="The pending-email outbox and the batch mailer.")
app.add_typer(templates_app, name="templates")
app.add_typer(emails_app, name="emails")

TextFile = Annotated[
    Path | None,
    typer.Option("--text-file", help="The plain-text body, from this file.", show_default=False),
]
HtmlFile = Annotated[
    Path | None,
    typer.Option("--html-file", help="The HTML body, from this file.", show_default=False),
]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {path}: {exc}", 2)


def _print_template(t: templates.TemplateView) -> None:
    used = ", ".join(t.statuses) or "no status"
    out.print(
        Text(t.name, style="bold"),
        f"({t.type}), used by {used}; updated {t.updated_at:%Y-%m-%d %H:%M}",
    )
    out.print(f"subject: {t.subject}", highlight=False, markup=False)
    out.print("--- text ---", highlight=False)
    out.print(t.body_text, highlight=False, markup=False)
    if t.body_html:
        out.print("--- html ---", highlight=False)
        out.print(t.body_html, highlight=False, markup=False)


@templates_app.command("list")
def templates_list(tctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The email templates and the statuses they are attached to."""
    with handled_errors():
        rows = templates.list_templates(open_context(tctx, check=False))
    if as_json:
        print_json(to_json(rows))
        return
    table = Table(title="email templates")
    for col in ("name", "type", "subject", "html", "statuses"):
        table.add_column(col)
    for t in rows:
        table.add_row(
            t.name, t.type, t.subject, "yes" if t.body_html else "-", ", ".join(t.statuses) or "-"
        )
    out.print(table)


@templates_app.command("show")
def templates_show(
    tctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The template's name.")],
    as_json: JsonOpt = False,
) -> None:
    """One template, as written."""
    with handled_errors():
        t = templates.get_template(open_context(tctx, check=False), name)
    print_json(to_json(t)) if as_json else _print_template(t)


@templates_app.command("add")
def templates_add(
    tctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A unique name, e.g. 'Back order'.")],
    subject: Annotated[str, typer.Option(help="The subject line (a template too).")],
    text_file: TextFile = None,
    html_file: HtmlFile = None,
    kind: Annotated[str, typer.Option("--type", help="The template's type.")] = "BACK_ORDER",
    as_json: JsonOpt = False,
) -> None:
    """Add a template; it is refused, with the line, if it does not parse or render."""
    if text_file is None:
        fail("--text-file is required: the plain-text body", 2)
    body = _read(text_file)
    html = _read(html_file) if html_file else None
    with handled_errors():
        t = templates.add_template(
            open_context(tctx, check=False), name, subject, body, html, kind=kind, actor=actor()
        )
    print_json(to_json(t)) if as_json else out.print(f"added email template {t.name}")


@templates_app.command("edit")
def templates_edit(
    tctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The template's name.")],
    new_name: Annotated[str | None, typer.Option("--name", help="Rename it.")] = None,
    subject: Annotated[str | None, typer.Option(help="A new subject line.")] = None,
    text_file: TextFile = None,
    html_file: HtmlFile = None,
    no_html: Annotated[bool, typer.Option("--no-html", help="Remove the HTML body.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Change a template; emails already queued keep their text."""
    html = "" if no_html else (_read(html_file) if html_file else None)
    with handled_errors():
        t = templates.edit_template(
            open_context(tctx, check=False),
            name,
            new_name=new_name,
            subject=subject,
            body_text=_read(text_file) if text_file else None,
            body_html=html,
            actor=actor(),
        )
    print_json(to_json(t)) if as_json else out.print(f"saved email template {t.name}")


@templates_app.command("preview")
def templates_preview(
    tctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The template's name.")],
    order_number: Annotated[
        str | None, typer.Option("--order", help="Render for this sales order's linked lines.")
    ] = None,
    source: Annotated[str | None, typer.Option(help="The order's source channel.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Render a template against a sample order, or a real one."""
    with handled_errors():
        p = templates.preview_template(
            open_context(tctx, check=False), name, order_number=order_number, source=source
        )
    if as_json:
        print_json(to_json(p))
        return
    if p.to:
        out.print(f"To: {p.to}", highlight=False, markup=False)
    out.print(f"Subject: {p.subject}\n", highlight=False, markup=False)
    out.print(p.body_text, highlight=False, markup=False)
    if p.body_html:
        out.print("--- html ---", highlight=False)
        out.print(p.body_html, highlight=False, markup=False)


@status_app.command("set-template")
def statuses_set_template(
    tctx: typer.Context,
    code: Annotated[str, typer.Argument(help="The status code.")],
    template: Annotated[str | None, typer.Argument(help="The template's name.")] = None,
    none: Annotated[bool, typer.Option("--none", help="Detach the template.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Attach an email template to a PO line status (or detach it with --none)."""
    if (template is None) == (not none):
        fail("give a template name, or --none to detach", 2)
    with handled_errors():
        s = catalog.set_status_template(
            open_context(tctx, check=False), code, None if none else template, actor=actor()
        )
    if as_json:
        print_json({"code": s.code, "name": s.name, "template": s.template})
    else:
        out.print(f"PO line status {s.code}: template {s.template or 'none'}")


@purchase_app.command("set-status")
def purchase_order_set_status(
    tctx: typer.Context,
    number: Annotated[str, typer.Argument(help="The PO number.")],
    line_no: Annotated[int, typer.Argument(help="The line number.", min=1)],
    status: Annotated[str, typer.Argument(help="The new status code.")],
    as_json: JsonOpt = False,
) -> None:
    """Give a PO line a status; a BACK_ORDER template on it emails each linked customer."""
    with handled_errors():
        change = status_change.set_po_line_status(
            open_context(tctx, check=False), number, line_no, status, actor=actor()
        )
    if as_json:
        print_json(to_json(change))
    elif not change.changed:
        out.print(f"{number} line {line_no} has status {change.after} already")
    else:
        out.print(
            f"{number} line {line_no}: {change.before or 'no status'} -> {change.after}; "
            f"{change.emails_queued} email(s) queued"
        )


@emails_app.command("list")
def emails_list(
    tctx: typer.Context,
    state: Annotated[
        str | None,
        typer.Option(help="pending, sending, sent, failed, cancelled or superseded."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 200,
    as_json: JsonOpt = False,
) -> None:
    """The outbox, oldest first."""
    with handled_errors():
        context = open_context(tctx, check=False)
        rows = outbox.list_emails(context, state=state, limit=limit)
        counts = outbox.count_emails(context)
    if as_json:
        print_json(to_json(rows))
        return
    table = Table(title="emails (" + ", ".join(f"{n} {s}" for s, n in counts.items()) + ")")
    for col in ("id", "state", "to", "subject", "order", "tries", "created", "last error"):
        table.add_column(col, justify="right" if col in {"id", "tries"} else "left")
    for e in rows:
        table.add_row(
            str(e.id),
            e.state,
            e.to_address,
            e.subject,
            e.sales_order or "-",
            str(e.attempts),
            f"{e.created_at:%Y-%m-%d %H:%M}",
            _note(e)[:60],
        )
    out.print(table)


def _note(e: outbox.EmailSummary) -> str:
    """The last error, or why a superseded email was not sent and what went instead."""
    if e.state == "superseded":
        instead = f"by email {e.superseded_by}" if e.superseded_by else "by none"
        return f"superseded {instead}: {e.superseded_reason or ''}"
    return e.last_error or ""


@emails_app.command("show")
def emails_show(
    tctx: typer.Context,
    email_id: Annotated[int, typer.Argument(help="The email's id.")],
    raw: Annotated[bool, typer.Option("--raw", help="The MIME message as sent.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """One email: state, headers and the rendered bodies."""
    with handled_errors():
        e = outbox.show_email(open_context(tctx, check=False), email_id)
    if as_json:
        print_json(to_json(e))
        return
    if raw:
        sys.stdout.write(e.raw)
        return
    sent = f", sent {e.sent_at:%Y-%m-%d %H:%M:%S}" if e.sent_at else ""
    out.print(f"email {e.id}: {e.state}, {e.attempts} attempt(s){sent}", highlight=False)
    if e.last_error:
        out.print(f"last error: {e.last_error}", highlight=False, markup=False)
    if e.state == "superseded":
        out.print(f"why: {e.superseded_reason or '-'}", highlight=False, markup=False)
        instead = (
            f"email {e.superseded_by} (bopo emails show {e.superseded_by})"
            if e.superseded_by
            else "none: nothing is left to announce"
        )
        out.print(f"superseded by: {instead}", highlight=False, markup=False)
    for key, value in (
        ("To", f"{e.to_name} <{e.to_address}>" if e.to_name else e.to_address),
        ("Subject", e.subject),
        ("Message-ID", e.message_id),
        ("Order", e.sales_order or "-"),
        ("Template", e.template or "-"),
        ("Event", e.event),
    ):
        out.print(f"{key}: {value}", highlight=False, markup=False)
    out.print()
    out.print(e.body_text, highlight=False, markup=False)
    if e.body_html:
        out.print("--- html ---", highlight=False)
        out.print(e.body_html, highlight=False, markup=False)


@emails_app.command("cancel")
def emails_cancel(
    tctx: typer.Context,
    email_id: Annotated[int, typer.Argument(help="The email's id.")],
    as_json: JsonOpt = False,
) -> None:
    """Cancel a pending or failed email: it will not be sent."""
    with handled_errors():
        e = outbox.cancel_email(open_context(tctx, check=False), email_id, actor=actor())
    print_json(to_json(e)) if as_json else out.print(f"email {email_id} cancelled")


@emails_app.command("retry")
def emails_retry(
    tctx: typer.Context,
    email_id: Annotated[int, typer.Argument(help="The email's id.")],
    as_json: JsonOpt = False,
) -> None:
    """Put a failed email back in the queue, its attempts reset."""
    with handled_errors():
        e = outbox.retry_email(open_context(tctx, check=False), email_id, actor=actor())
    print_json(to_json(e)) if as_json else out.print(f"email {email_id} is pending again")


@emails_app.command("send")
def emails_send(
    tctx: typer.Context,
    ids: Annotated[
        list[int] | None, typer.Option("--id", help="Only this email (repeatable).")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many.")] = None,
    loop: Annotated[bool, typer.Option("--loop", help="Keep sending until stopped.")] = False,
    interval: Annotated[
        float, typer.Option(min=0.1, help="Seconds between rounds with --loop.")
    ] = 30.0,
    as_json: JsonOpt = False,
) -> None:
    """Send due emails over SMTP: once, or in a loop for cron/systemd (stop with SIGTERM)."""
    import signal

    stop = {"now": False}

    def _stop(_signum: int, _frame: Any) -> None:
        stop["now"] = True

    with handled_errors():
        context = open_context(tctx, check=False)
        if loop:
            from bopo.logs import configure_logging

            configure_logging(context.settings.server.log_format)  # a service's log lines
            signal.signal(signal.SIGTERM, _stop)
            signal.signal(signal.SIGINT, _stop)

            import logging

            log = logging.getLogger("bopo.mailer")

            def report(s: mailer.SendSummary) -> None:  # in the log's format, JSON included
                if s.sent or s.failed or s.retrying or s.stopped:
                    log.info(_send_line(s), extra={"summary": to_json(s)})

            summary = mailer.run_mailer(
                context, interval=interval, should_stop=lambda: stop["now"], on_round=report
            )
        else:
            summary = mailer.send_emails(context, ids=ids, limit=limit)
    if as_json:
        print_json(to_json(summary))
    else:
        out.print(_send_line(summary), highlight=False)
        for line in summary.errors[:20]:
            err.print(f"[yellow]{line}[/]", highlight=False)
    if (summary.failed or summary.stopped) and not loop:
        raise typer.Exit(1)


def _send_line(s: mailer.SendSummary) -> str:
    line = f"{s.sent} sent, {s.failed} failed, {s.retrying} to retry"
    if s.superseded:
        line += f", {s.superseded} no longer true (superseded, not sent)"
    return f"{line} ({s.stopped})" if s.stopped else line
