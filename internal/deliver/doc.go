// Package deliver is mavis's outgoing SMTP/LMTP client: it re-injects checked
// mail into the MTA ($forward_method, by default smtp:[127.0.0.1]:10025) and
// sends notifications ($notify_method), the way amavisd-new's
// Amavis::Out::SMTP does.
//
// It speaks EHLO (LHLO for LMTP, HELO as a fallback), passes the original
// client on with XFORWARD when the next hop offers it, pipelines MAIL, RCPT
// and DATA when PIPELINING is offered, passes BODY, SMTPUTF8 and the DSN
// parameters (RET, ENVID, NOTIFY, ORCPT) on only when the next hop announces
// the matching extension, delivers in more transactions when a next hop
// answers 452 (too many recipients), streams the body with dot-stuffing and
// CRLF normalisation, and keeps a cache of idle connections per method
// ($smtp_connection_cache_enable).
//
// Every recipient gets a reply in amavis's format: the next hop's reply
// wrapped as "<code> <enh> from MTA(smtp:[127.0.0.1]:10025): <its reply>"
// (an enhanced status code is fabricated from the next hop's code when it
// gave none), and local failures (connection refused, timeouts, broken
// connections, unreadable body) as 4xx replies naming the protocol section,
// e.g. "451 4.5.0 From MTA() during fwd-connect (All attempts (1) failed
// connecting to smtp:[127.0.0.1]:10025): id=12345-01". An aborted DATA
// phase is never terminated with the dot: the connection is dropped, so the
// next hop discards the partial message.
//
// Differences from amavis, deliberate: XFORWARD is pipelined with MAIL (as
// Postfix's own SMTP client does) instead of waiting for its reply; every
// per-phase timeout is bounded by the caller's context (amavis never waits
// less than 60 s); an LMTP server without PIPELINING is tolerated. Not
// implemented: STARTTLS and AUTH toward the next hop, lists of candidate
// methods and '*' wildcards, $local_client_bind_address,
// $terminate_dsn_on_notify_success. The caller fabricates ENVID for
// notifications and counts Received: fields (amavis "Too many hops").
//
// This is our own code rather than github.com/emersion/go-smtp's client: that
// client sends one command at a time (no PIPELINING), has no XFORWARD, cannot
// pass BODY/SMTPUTF8/DSN parameters through exactly as received, has one
// timeout for everything instead of per-phase timeouts (connect, greeting,
// EHLO, MAIL, RCPT, DATA, data block, end of data, RSET, QUIT) bounded by the
// caller's context, and does not tell which phase failed, which amavis's reply
// texts need.
package deliver
