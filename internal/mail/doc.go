// Package mail is mavis's message model: the envelope with per-recipient
// state, the client information carried by XFORWARD (or milter macros), the
// body spooled once (memory up to a threshold, then a private 0600 file),
// the header section parsed once, and the identifiers amavis gives every
// message (log_id, mail_id).
//
// Front ends (internal/smtpd, later milter and AM.PDP) build a Message; every
// later stage reads it. No policy lives here.
package mail
