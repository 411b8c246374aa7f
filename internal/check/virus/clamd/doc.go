// Package clamd is mavis's client for ClamAV's clamd daemon protocol.
//
// We wrote our own client: no well-kept Go library for clamd exists (the few
// published ones are unmaintained, speak only single-shot INSTREAM or SCAN,
// and have no IDSESSION pipelining, no StreamMaxLength handling and no
// context deadlines). The protocol is small (clamd(8), "COMMANDS"), so the
// client is small too:
//
//   - Unix socket and TCP ([ParseAddress] reads amavis's socket specs:
//     "/run/clamav/clamd.ctl", "clamd:/path", "clamd:[127.0.0.1]:3310").
//   - zINSTREAM streaming from an [io.ReaderAt] in length-prefixed chunks:
//     clamd never needs to read mavis's files, so none of amavis's CONTSCAN
//     permission problems ("lstat() failed: Permission denied").
//   - zIDSESSION: several streams are pipelined on one connection (at most
//     Config.MaxInFlight unanswered), and sessions are kept in a small pool
//     and reused by later scans. A pooled session that clamd closed meanwhile
//     (its IdleTimeout) is detected on first use and the scan is retried once
//     on a fresh connection.
//   - StreamMaxLength: clamd answers "INSTREAM size limit exceeded. ERROR"
//     and closes the connection when a stream exceeds its StreamMaxLength.
//     The client never lets that happen: an object longer than
//     Config.StreamMaxLength (set it to clamd's value; 25 MiB is Debian's) is
//     streamed up to that length only, so what fits is still scanned, and its
//     [Reply] says Truncated. If clamd's limit is lower than the configured one
//     the scan fails with an error wrapping [ErrSizeLimit].
//   - Timeouts: Config.ConnectTimeout for connecting, Config.ReadTimeout as an
//     inactivity limit on every read and write, and the context's deadline or
//     cancellation over everything (a cancelled scan closes its connection).
//   - zCONTSCAN / zMULTISCAN / zSCAN / zALLMATCHSCAN of a path, as amavis's
//     stock Debian entry does ("CONTSCAN {}\n"): parity for sites that want
//     it; clamd must be able to read the directory.
//   - zFILDES on Unix sockets: the file descriptor is passed to clamd, which
//     reads the file without a copy over the socket and without path
//     permissions (one request at a time: a descriptor sent while clamd still
//     reads an earlier request reaches the wrong command).
//   - zPING, zVERSION.
//
// Replies are parsed by [ParseReply]: "stream: OK", "stream: <name> FOUND",
// "<path>: <name> FOUND", "... ERROR", with or without the "<id>: " prefix of
// a session. An ERROR is never read as clean.
package clamd
