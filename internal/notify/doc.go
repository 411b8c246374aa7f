// Package notify writes and sends the messages amavisd-new sends about
// mail it blocked: delivery status notifications to the sender (RFC 3464)
// and notifications to administrators (virus_admin, banned_admin,
// bad_header_admin, spam_admin).
//
//   - DSN builds a multipart/report; report-type=delivery-status message:
//     the text from the sender template chosen by category (amavis's
//     %notify_sender_templ_by_ccat), a message/delivery-status part
//     (Reporting-MTA, Received-From-MTA, Arrival-Date, Original-Envelope-Id,
//     then per recipient Original-Recipient, Final-Recipient, Action, Status,
//     Remote-MTA, Diagnostic-Code, Last-Attempt-Date, Final-Log-ID) and the
//     original header section (text/rfc822-headers), from <> to the
//     envelope sender. Which recipients are reported, and which DSNs are
//     suppressed, follows amavis's rules in amavis's order (DecideDSN, with
//     BulkReason for bulk, list and auto-reply mail).
//   - Admin builds the administrator notice: multipart/mixed with the
//     report text and the original header section, From
//     hdrfrom_notify_admin (default "Content-filter at <host>"
//     <postmaster@<host>>), envelope sender mailfrom_notify_admin or that
//     address.
//   - Send hands a notification to notify_method through internal/deliver.
//     A 4xx reply or a local failure is a *TempError: the caller tempfails
//     the whole message, as amavis does; a 5xx reply is only logged.
//
// The texts come from templates in amavis's template language, so that an
// administrator's customised amavis templates (Debian's
// /etc/amavis/en_US/template-*.txt, LoadTemplates) keep working. The
// expander (Expand) is our own code: no Go library implements amavis's
// macro language, whose quoting and re-scanning rules decide what a
// template produces; it is bounded (steps and output size) so a template
// cannot run away. The built-in templates produce amavis's subject and
// report lines (people filter on them; the tests compare them with the
// notifications amavisd-new 2.13 sent for the same messages), with our own
// explanatory prose.
//
// Deliberate differences from amavis: a blocked recipient's reply line in
// an admin notice keeps its case (amavis lowercases everything after the
// last '@' of the line, reply text included); the DSN text says "mavis"
// where amavis names itself; DKIM (dkim macros) and p0f details are empty
// unless the caller provides them.
package notify
