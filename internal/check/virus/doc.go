// Package virus runs mavis's virus scanners with amavis's semantics.
//
// A [Scanner] is one @av_scanners entry: the clamd client ([Clamd], our own
// code in package clamd, since no well-kept Go library for clamd exists), a
// command-line scanner ([Command]: clamscan, clamdscan, any program with
// amavis's "{}" and "*" argument templates, exit-code or regexp tests and a
// virus-name regexp), or a daemon spoken to with amavis's simple protocol
// ([Daemon]: write a query, read the answer, match the regexps). [New]
// builds one from an [Entry], the Go form of an @av_scanners entry.
//
// [Run] applies @av_scanners / @av_scanners_backup: the primaries run (by
// default concurrently; Options.Sequential for amavis's order), and only if
// none of them gave a definite answer do all backups run. A scanner that
// fails never counts as clean: when no scanner at all gave a definite answer
// the [Result] says AllFailed (amavis's "ALL VIRUS SCANNERS FAILED") and
// Result.Err is non-nil; the caller either tempfails
// ($virus_scanners_failure_is_fatal) or marks the message CC_UNCHECKED —
// that choice, and the headers, destinies, quarantine and notifications of
// CC_VIRUS, belong to the pipeline, not to this package.
// $first_infected_stops_scan and virus_name_to_spam_score_maps are
// Options; each scanner's verdict, names, output and elapsed time are in
// Result.Scanners for logs and `mavis check`.
//
// What is scanned (see docs/virus-scanning.md for the measurements behind
// it): streaming clamd scanners send the raw message and every decoded part
// (ScanBoth, the default), so a virus is found if either clamd's own
// unpackers or mavis's decoder (RAR, zstd, lz4, lha, arc, zoo… which this
// clamd cannot open) reaches it.
package virus
