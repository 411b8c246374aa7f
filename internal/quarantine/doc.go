// Package quarantine keeps copies of blocked messages in local files the way
// amavisd-new's local: quarantine method does ($QUARANTINEDIR,
// $quarantine_subdir_levels, $virus_quarantine_method = 'local:virus-%m'
// and friends), reads them back for a release, and sweeps old ones away.
//
// Store writes one file per message under QUARANTINEDIR, named by the
// method's template (%m mail_id, %n log id, %b body digest, %P partition
// tag, %i compact ISO-8601 local time, %% a percent sign); a name ending in
// ".gz" is gzip-compressed. With quarantine_subdir_levels >= 1 the file goes
// into a subdirectory named after the first character of the mail_id, and
// the 62 subdirectories A-Z, a-z, 0-9 are created on first use (mode 0750),
// as amavis does. The file starts with the fields amavis prepends
// (Return-Path, Delivered-To, X-Envelope-From, X-Envelope-To,
// X-Envelope-To-Blocked, X-Quarantine-ID), then the caller's extra fields
// (X-Amavis-Alert, X-Spam-*, Received), then the message as received with
// its Return-Path removed; line ends are LF, as in amavis's files.
//
// Durability: the message is written to a temporary name in the target
// directory (mode 0640, O_EXCL), fsync'd, linked to its final name (never
// overwriting an existing file, as amavis refuses to) and the directory is
// fsync'd, all before Store returns: the caller may answer 250 upstream as
// soon as it has a Location.
//
// Differences from amavis, deliberate: only the directory form of local:
// is supported (amavis appends to a Unix mbox when QUARANTINEDIR is a file,
// and creates such a file when the directory is missing; mavis reports an
// error instead); the quarantined header is kept as received (amavis may
// remove bare CRs and unfold whitespace-only lines on the way); the retention
// sweeper (Sweep, RunSweeper) replaces the cron job
// "find ~amavis/virusmails -ctime +5 -exec rm {} \;" of the Debian guides
// and ages files by modification time.
//
// The file handling is our own code: it is a few dozen lines on top of os
// and compress/gzip, and the durability order above is the point of it.
package quarantine
