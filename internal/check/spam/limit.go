package spam

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Header caps of amavis's size-limit rule (mail_body_size_limit).
const (
	// SpamdHeaderCap is how much of the header section amavis always sends
	// to SpamAssassin/spamd (64 KiB, plus one byte).
	SpamdHeaderCap = 64 << 10
	// RspamdHeaderCap is the same for rspamd (32 KiB).
	RspamdHeaderCap = 32 << 10
	// limitSlack: a message at most this much above the limit is sent whole
	// ("it's faster without size checks").
	limitSlack = 5 << 10
)

// Oversize selects what a client does with a message larger than its body
// size limit.
type Oversize int

const (
	// Truncate sends the header section and the first part of the body, as
	// amavis does (sa_mail_body_size_limit, the scanner's
	// mail_body_size_limit option).
	Truncate Oversize = iota
	// Skip does not send the message at all; the result is Skipped "too
	// big" (spamc's behaviour with -s).
	Skip
)

// TruncateSize applies amavis's size-limit rule to a message of size bytes
// whose header section (with the empty separator line) is headerSize bytes:
// the scanner gets min(headerCap, headerSize) + extra + min(bodyLimit,
// bodySize) bytes, unless the message is less than 5 KiB above that, when it
// gets everything. It returns 0 for "send everything"; bodyLimit < 0 means no
// limit. (amavis: extra is 1 for SpamAssassin/spamd, 0 for rspamd.)
func TruncateSize(size, headerSize, bodyLimit, headerCap, extra int64) int64 {
	if bodyLimit < 0 || size <= 0 {
		return 0
	}
	headerSize = min(max(headerSize, 0), size)
	limit := min(headerCap, headerSize) + extra + min(bodyLimit, size-headerSize)
	if size < limit+limitSlack {
		return 0
	}
	return limit
}

// HeaderSize returns the size of the message's header section including the
// empty line that ends it (amavis's orig_header_size). A message without an
// empty line is all header.
func HeaderSize(r io.ReaderAt, size int64) (int64, error) {
	const chunk = 4 << 10
	buf := make([]byte, chunk+3)
	// prev holds the last 3 bytes of the previous chunk, so that a
	// separator split across chunks is found.
	var carry int
	var off int64
	for off < size {
		n := int64(chunk)
		if size-off < n {
			n = size - off
		}
		got, err := r.ReadAt(buf[carry:carry+int(n)], off)
		if got < int(n) {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, fmt.Errorf("reading header section: %w", err)
		}
		data := buf[:carry+got]
		base := off - int64(carry)
		if off == 0 {
			// an empty header section: the message starts with its separator
			if bytes.HasPrefix(data, []byte("\r\n")) {
				return 2, nil
			}
			if bytes.HasPrefix(data, []byte("\n")) {
				return 1, nil
			}
		}
		if end := headerEnd(data); end >= 0 {
			return base + int64(end), nil
		}
		off += n
		carry = min(3, len(data))
		copy(buf, data[len(data)-carry:])
	}
	return size, nil
}

// headerEnd finds the first "\n\r\n" or "\n\n" and returns the offset just
// after it, or -1.
func headerEnd(b []byte) int {
	for i := 0; i < len(b); i++ {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j
		if i+1 < len(b) && b[i+1] == '\n' {
			return i + 2
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			return i + 3
		}
	}
	return -1
}
