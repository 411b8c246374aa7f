// Package spamtag turns a recipient's spam score into what amavis makes of
// it (amavis §4): the score and test list assembled from the scanners and
// amavis's pseudo tests (Assemble, SoftBoost, PenPalsScore), the spam
// categories and cutoffs from the recipient's levels (Evaluate), the
// X-Spam-Flag, X-Spam-Score, X-Spam-Level and X-Spam-Status fields
// (HeaderFields) and the subject tag (ChooseTag, ExpandTag, EditSubject,
// NewSubject) — byte for byte as amavisd-new 2.13 writes them.
//
// Everything here is a pure function of its arguments: no lookups, no I/O.
// The caller looks up the levels and tags per recipient, decides who is
// local, and places the fields.
//
// The header folding is our own code rather than a library's (go-message's
// textproto folds at its own points): amavis's wrap_string joins the
// pieces between its fold marks into lines of up to 78 columns, and mail
// filters and users' rules that match on these fields see exactly amavis's
// line breaks. RFC 2047 decoding uses the standard library with
// go-message's charsets; the encoding side is amavis's own Q-encoding
// (words of up to 75 characters, split anywhere), again our own code since
// mime.QEncoding splits differently.
package spamtag
