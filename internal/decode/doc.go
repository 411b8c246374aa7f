// Package decode is mavis's look inside a message, amavis's
// decompose_mail: a tolerant streaming MIME walk and an archive unpacker
// that turn one message into a flat list of parts (Result.Parts) with their
// declared names, declared MIME types, true content types in amavis's short
// names, sizes, nesting and attributes, under amavis's limits ($MAXLEVELS,
// $MAXFILES, the expansion quota) plus a time budget. Exceeding a limit, an
// encrypted member or a corrupt archive is a result (Result.Hold,
// Result.Unchecked with CC_UNCHECKED minors), never a crash, a hang or
// unbounded memory: all data is streamed to 0600 files under the message's
// work directory through quota-charging writers, and the work directory is
// opened as an os.Root, so no archive member name is ever used as a path
// (parts are always parts/pNNN).
//
// Like amavis, decoding goes in tiers: the MIME walk issues the tier-1
// parts; each tier's files are typed and decoded by type (first matching
// decoder wins, as in @decoders) into the next tier.
//
// Where we wrote our own code instead of using a library, and why:
//   - The MIME walker (mime.go): go-message stops at the first malformed
//     header line or bad base64, enmime reads every part into memory, and
//     neither keeps duplicate filename parameters, which the banned-name
//     check must all see. Ours is line-based and streaming, forgives what
//     mail readers forgive, adopts a boundary found in the body when the
//     declared one never appears (so a mismatch cannot hide an attachment
//     in the preamble), resumes parts after a premature closing boundary,
//     and records every complaint for the bad-header check.
//   - Parameter parsing (params.go): stdlib mime rejects or drops
//     duplicates; we keep every filename/name value, RFC 2047 and RFC 2231
//     decoded and raw.
//   - Lenient base64 / quoted-printable / uuencode decoders (codec.go).
//   - The .xz container (xz.go) and capped LZMA/LZMA2 coders for 7z
//     (sevenzip.go): the libraries allocate the dictionary a stream asks
//     for, up to 4 GiB; we refuse more than maxDict first.
//   - TNEF, cpio and ar readers (subpackages tnef, cpio, ar): none can be
//     had as a library here.
//   - Office macro detection and embedded-object extraction over mscfb
//     (ole.go), replacing amavis's ripOLE.
//
// Per-message cost: fixed-size buffers come from pools (bufpool.go), a part
// is typed from the bytes kept while writing it instead of reading its file
// back, a text part without "begin " is not read again for uuencoded files,
// and WorkDirs lets the caller reuse work directories (amavis reuses each
// child's) instead of making and removing two directories per message,
// which on ext4 costs more than decoding a small message.
//
// Differences from amavis, on purpose (see DESIGN.md): an attached
// message/rfc822 is decoded too, so an executable inside it is checked; a
// corrupt archive or one whose headers are encrypted is undecipherable
// (UNCHECKED) instead of passing as clean; part numbers (pNNN) follow
// encounter order rather than MIME::Parser's filer order; unpacked archives
// keep their files so the virus scanner also sees the container.
package decode
