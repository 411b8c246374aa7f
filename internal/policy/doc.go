// Package policy decides what happens to a message for each recipient:
// amavis's content categories, destinies, the per-recipient reply texts and
// the "one response for all" reply for SMTP (amavis §3). Everything here is
// a pure function of settings and results, so it is tested exhaustively.
package policy
