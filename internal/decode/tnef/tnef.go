// Package tnef reads the attachments out of a TNEF stream (MS-OXTNEF, the
// winmail.dat Outlook sends). It is ours because no TNEF library can be had
// here (teamwork/tnef and its forks are not obtainable), and because the
// job is small: attachments are sequential attribute records, and the names
// live in a few attributes and MAPI properties. The reader streams:
// attachment data is handed out as a bounded io.Reader and never buffered,
// and every count or length read from the input is checked against the
// bytes actually left, so hostile input cannot make it allocate or loop.
package tnef

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
)

// Signature is the first four bytes of every TNEF stream (0x223E9F78 LE).
const Signature = "\x78\x9f\x3e\x22"

// Attribute IDs (ID and type word combined, as stored).
const (
	attAttachRendData          = 0x00069002 // starts an attachment
	attAttachData              = 0x0006800f
	attAttachTitle             = 0x00018010
	attAttachment              = 0x00069005 // attachment MAPI properties
	attAttachTransportFilename = 0x00069001
	attMAPIProps               = 0x00069003 // message MAPI properties
)

// MAPI property IDs we use.
const (
	prAttachDataBin     = 0x3701
	prAttachExtension   = 0x3703
	prAttachFilename    = 0x3704
	prAttachLongFile    = 0x3707
	prAttachPathname    = 0x3708
	prAttachLongPath    = 0x370d
	prAttachMIMETag     = 0x370e
	prDisplayName       = 0x3001
	ptShort, ptLong     = 0x0002, 0x0003
	ptFloat, ptDouble   = 0x0004, 0x0005
	ptCurrency, ptApp   = 0x0006, 0x0007
	ptError, ptBoolean  = 0x000a, 0x000b
	ptObject            = 0x000d
	ptI8                = 0x0014
	ptString8, ptUnicod = 0x001e, 0x001f
	ptSystime           = 0x0040
	ptCLSID             = 0x0048
	ptBinary            = 0x0102
	mvFlag              = 0x1000
)

// maxName bounds a name value we keep; longer ones are skipped.
const maxName = 4096

// ErrSignature reports input that is not TNEF.
var ErrSignature = errors.New("tnef: bad signature")

// Visitor receives what Walk finds. att numbers attachments from 0 in
// stream order. Any callback may be nil.
type Visitor struct {
	// Data gets attachment att's content; r is valid only during the call
	// and need not be read to the end.
	Data func(att int, r io.Reader) error
	// Name gets each name of attachment att (title, transport name, MAPI
	// file names, display name), possibly several times.
	Name func(att int, name string)
	// MIME gets a declared MIME type (PR_ATTACH_MIME_TAG).
	MIME func(att int, mimeType string)
}

type reader struct {
	r    *bufio.Reader
	left int64 // bytes left in the current attribute
}

func (r *reader) read(b []byte) error {
	if int64(len(b)) > r.left {
		return io.ErrUnexpectedEOF
	}
	n, err := io.ReadFull(r.r, b)
	r.left -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func (r *reader) u32() (uint32, error) {
	var b [4]byte
	err := r.read(b[:])
	return binary.LittleEndian.Uint32(b[:]), err
}

func (r *reader) skip(n int64) error {
	if n > r.left || n < 0 {
		return io.ErrUnexpectedEOF
	}
	k, err := io.CopyN(io.Discard, r.r, n)
	r.left -= k
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// Walk reads a TNEF stream and reports attachments to v.
func Walk(in io.Reader, v Visitor) error {
	br := bufio.NewReader(in)
	var hdr [6]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil || string(hdr[:4]) != Signature {
		return ErrSignature
	}
	att := -1
	cur := func() int { return max(att, 0) }
	r := &reader{r: br}
	for {
		var ah [9]byte
		n, err := io.ReadFull(br, ah[:])
		if n == 0 && err == io.EOF {
			return nil
		}
		if err != nil && n <= 2 {
			// a stray CR/LF after the last attribute (mailers append
			// them): not worth calling the attachment corrupt
			return nil
		}
		if err != nil {
			return fmt.Errorf("tnef: truncated attribute header: %w", io.ErrUnexpectedEOF)
		}
		level := ah[0]
		id := binary.LittleEndian.Uint32(ah[1:5])
		length := int64(binary.LittleEndian.Uint32(ah[5:9]))
		r.left = length
		if level != 1 && level != 2 {
			return fmt.Errorf("tnef: bad attribute level %d", level)
		}
		switch id {
		case attAttachRendData:
			att++
		case attAttachData:
			if v.Data != nil {
				lr := &io.LimitedReader{R: br, N: length}
				if err := v.Data(cur(), lr); err != nil {
					return err
				}
				r.left = lr.N
			}
		case attAttachTitle, attAttachTransportFilename:
			if length <= maxName {
				b := make([]byte, length)
				if err := r.read(b); err != nil {
					return err
				}
				if s := cString(b); s != "" && v.Name != nil {
					v.Name(cur(), s)
				}
			}
		case attAttachment:
			if err := props(r, cur(), v); err != nil {
				return err
			}
		}
		if err := r.skip(r.left); err != nil {
			return fmt.Errorf("tnef: truncated attribute %#x: %w", id, err)
		}
		var ck [2]byte
		if _, err := io.ReadFull(br, ck[:]); err != nil {
			return fmt.Errorf("tnef: truncated checksum: %w", io.ErrUnexpectedEOF)
		}
	}
}

func cString(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return strings.TrimSpace(string(b))
}

func fixedSize(t uint16) int64 {
	switch t {
	case ptShort, ptLong, ptFloat, ptError, ptBoolean:
		return 4
	case ptDouble, ptCurrency, ptApp, ptI8, ptSystime:
		return 8
	case ptCLSID:
		return 16
	}
	return -1
}

// props parses an attachment's MAPI property list.
func props(r *reader, att int, v Visitor) error {
	count, err := r.u32()
	if err != nil {
		return err
	}
	if int64(count)*8 > r.left+8 { // each property needs at least 8 bytes
		return fmt.Errorf("tnef: %d properties in %d bytes", count, r.left)
	}
	for k := uint32(0); k < count; k++ {
		tag, err := r.u32()
		if err != nil {
			return err
		}
		ptype, pid := uint16(tag), uint16(tag>>16)
		if pid >= 0x8000 { // named property: GUID, kind, LID or name
			if err := r.skip(16); err != nil {
				return err
			}
			kind, err := r.u32()
			if err != nil {
				return err
			}
			if kind == 0 {
				if err := r.skip(4); err != nil {
					return err
				}
			} else {
				nl, err := r.u32()
				if err != nil {
					return err
				}
				if err := r.skip(int64(nl) + pad4(int64(nl))); err != nil {
					return err
				}
			}
		}
		multi := ptype&mvFlag != 0
		base := ptype &^ mvFlag
		values := uint32(1)
		if fs := fixedSize(base); fs >= 0 {
			if multi {
				if values, err = r.u32(); err != nil {
					return err
				}
			}
			if err := r.skip(int64(values) * max(fs, 4)); err != nil {
				return err
			}
			continue
		}
		switch base {
		case ptString8, ptUnicod, ptBinary, ptObject:
		default:
			return fmt.Errorf("tnef: unknown property type %#x", ptype)
		}
		// variable-size values carry a count even when single-valued
		if values, err = r.u32(); err != nil {
			return err
		}
		if int64(values)*4 > r.left {
			return fmt.Errorf("tnef: %d values in %d bytes", values, r.left)
		}
		for j := uint32(0); j < values; j++ {
			l, err := r.u32()
			if err != nil {
				return err
			}
			ln := int64(l)
			if ln > r.left {
				return fmt.Errorf("tnef: value of %d bytes in %d", ln, r.left)
			}
			switch {
			case pid == prAttachDataBin && (base == ptBinary || base == ptObject) && v.Data != nil:
				n := ln
				if base == ptObject && n >= 16 { // interface ID precedes the object
					if err := r.skip(16); err != nil {
						return err
					}
					n -= 16
				}
				lr := &io.LimitedReader{R: r.r, N: n}
				if err := v.Data(att, lr); err != nil {
					return err
				}
				r.left -= n - lr.N
				if err := r.skip(lr.N); err != nil {
					return err
				}
			case (base == ptString8 || base == ptUnicod) && ln <= maxName && isNameProp(pid):
				b := make([]byte, ln)
				if err := r.read(b); err != nil {
					return err
				}
				s := decodeString(b, base == ptUnicod)
				if pid == prAttachMIMETag {
					if v.MIME != nil && s != "" {
						v.MIME(att, s)
					}
				} else if pid != prAttachExtension && s != "" && v.Name != nil {
					v.Name(att, s)
				}
			default:
				if err := r.skip(ln); err != nil {
					return err
				}
			}
			if err := r.skip(pad4(ln)); err != nil {
				return err
			}
		}
	}
	return nil
}

func isNameProp(id uint16) bool {
	switch id {
	case prAttachFilename, prAttachLongFile, prAttachPathname, prAttachLongPath, prDisplayName, prAttachMIMETag, prAttachExtension:
		return true
	}
	return false
}

func pad4(n int64) int64 { return (4 - n%4) % 4 }

func decodeString(b []byte, unicode bool) string {
	if !unicode {
		return cString(b)
	}
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return strings.TrimSpace(string(utf16.Decode(u)))
}
