// Package pipeline runs one message down mavis's road: (decode → check →)
// decide → act → record. It implements smtpd.Handler: given a received
// mail.Message it forwards what should be delivered, and returns the
// replies for the front end, keeping the no-loss promise — a 2xx reply is
// returned only when the next hop accepted the message for the recipient
// (or policy deliberately dropped it); every error is a 4xx.
package pipeline
