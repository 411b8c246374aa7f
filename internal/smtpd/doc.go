// Package smtpd is mavis's SMTP/LMTP server: the front end Postfix's
// content_filter (or lmtp transport) talks to, speaking exactly as amavis's
// Amavis::In::SMTP does — the same greeting, EHLO keywords, reply texts and
// enhanced status codes, XFORWARD, DSN parameters, LMTP per-recipient
// replies and the one-reply-after-the-dot no-loss contract.
//
// A session turns the conversation into a mail.Message (envelope with
// per-recipient DSN parameters, XFORWARD client attributes, connection facts,
// the body spooled once through mail.Spool, the parsed header) and hands it
// to a Handler after the final dot; the Handler's mail.Outcome becomes the
// reply (one for SMTP, one per accepted recipient for LMTP).
//
// # Own code instead of a library
//
// The protocol engine is our own code. github.com/emersion/go-smtp cannot do
// Postfix's XFORWARD, does not let us reproduce amavis's exact reply texts and
// parameter errors, and buffers differently; mox's server is not a library.
// go-smtp is used only in the tests, as an independent client peer.
//
// # DATA reading and SMTP smuggling
//
// Only <CR><LF>.<CR><LF> ends the data (a "." line right after the DATA
// reply counts too, the preceding CRLF being implied). A bare LF or a bare CR
// is a line end as far as storage goes: it is written to the spool as CRLF,
// so the spool (and everything downstream, which re-injects with proper
// dot-stuffing) only ever sees CRLF lines. Dot-unstuffing applies, as in RFC
// 5321 and amavis, to lines that begin after a real CRLF; a line consisting of
// a single "." that is ended by a bare LF or bare CR (the smuggling forms
// "\r\n.\n", "\n.\r\n", "\n.\n", "\r\n.\r") neither ends the message nor
// loses its dot: it is stored as a "." line, which the next hop receives
// dot-stuffed. So no data sequence can end a message early or forge a second
// one downstream. Data lines of any length are streamed, never buffered
// whole; the size is the RFC 1870 size of what is stored (CRLF counted,
// stuffing dots not).
//
// # Timeouts, shutdown and limits
//
// Options.IdleTimeout ($smtpd_timeout) is re-armed before every read, also
// during DATA. When it expires between commands the client gets amavis's
// "421 4.3.2 Service shutting down, closing channel, during waiting for
// input from client", during DATA "421 4.3.2 Service shutting down, timed
// out during waiting for input from client" (the message is dropped, the
// handler is not called). Handler.Process gets a context with the
// Options.ChildTimeout deadline. Shutdown lets a message being received or
// processed finish and answers idle sessions
// "421 4.3.2 Service shutting down, closing channel". At most maxServers
// sessions run at once; further connections are accepted but not greeted
// until a slot frees, as with amavis's pre-forked children.
//
// # Differences from amavis, on purpose
//
//   - Command lines containing a bare CR or LF are answered
//     "500 5.5.2 Error: bad syntax" (amavis would take them into the
//     arguments); command lines longer than Options.MaxLineLength are
//     answered "500 5.5.2 Error: line too long" (Postfix's text) and skipped.
//   - amavis enforces $smtpd_message_size_limit during DATA only when a
//     per-recipient limit applies; mavis always enforces
//     Options.MessageSizeLimit (raised to 64 KiB as amavis does). A declared
//     SIZE above it gets amavis's per-recipient reply at RCPT
//     ("552 5.3.4 Declared message size (N B) exceeds size limit for
//     recipient <r>"), an actual size above it
//     "552 5.3.4 Message size (N B) exceeds size limit" after the dot.
//   - The message number in the log id advances on each accepted MAIL
//     (amavis also counts a MAIL that fails its syntax check), and the UTF8
//     protocol prefix is per message (amavis keeps it for the rest of the
//     session).
//   - Replies are buffered while the client pipelines and flushed when no
//     complete command is waiting in the input buffer (RFC 2920), and always
//     at DATA, EHLO/LHLO, NOOP, QUIT and before the message is processed.
//
// # Log levels
//
// amavis log levels map to slog levels as slog.Level(-n) for amavis level n
// >= 1 (1 → -1 … 5 → -5, Debug is -4), level 0 → Info, -1 → Warn and
// -2 → Error, so a handler with minimum level -L shows amavis log_level L.
// Every line carries the attribute log_id.
package smtpd
