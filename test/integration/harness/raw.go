package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// SendRaw delivers a ready-made message text (any line ends; it is CRLF-normalised and dot-stuffed) from
// from to the recipients in one session, and returns the replies to the end of data (one per recipient
// with LMTP). Unlike Send it does not treat a non-2xx final reply as an error: content tests want to see
// rejections. Replies to EHLO, MAIL, RCPT or DATA other than the expected one are a *SendError.
func SendRaw(ctx context.Context, addr, from string, to []string, raw []byte, opt DialOptions) ([]Reply, error) {
	s, err := Dial(ctx, addr, opt)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	check := func(stage string, want int, r Reply, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", stage, err)
		}
		if r.Code != want && (want != 250 || !r.OK()) {
			return &SendError{Stage: stage, Reply: r}
		}
		return nil
	}
	r, err := s.Hello()
	if err := check("EHLO", 250, r, err); err != nil {
		return nil, err
	}
	r, err = s.Mail(from)
	if err := check("MAIL", 250, r, err); err != nil {
		return nil, err
	}
	for _, rc := range to {
		r, err = s.Rcpt(rc)
		if err := check("RCPT "+rc, 250, r, err); err != nil {
			return nil, err
		}
	}
	r, err = s.Data()
	if err := check("DATA", 354, r, err); err != nil {
		return nil, err
	}
	if err := s.WriteData(raw); err != nil {
		return nil, err
	}
	rs, err := s.EndData()
	if err != nil {
		return rs, err
	}
	_ = s.Quit()
	if len(rs) == 0 {
		return nil, errors.New("no reply to end of data")
	}
	return rs, nil
}

// SetMessageID replaces the first Message-ID field of a message text (any capitalisation, e.g. the
// "Message-Id" of SpamAssassin's samples) with id, or adds one at the top when there is none. It lets
// tests send fixed sample messages with a unique Message-ID that Delivered can find.
func SetMessageID(raw []byte, id string) []byte {
	raw = crlf(raw)
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		end = len(raw)
	}
	re := regexp.MustCompile(`(?im)^message-id:[ \t]*[^\r\n]*(\r\n[ \t][^\r\n]*)*`)
	if loc := re.FindIndex(raw[:end]); loc != nil {
		out := append([]byte{}, raw[:loc[0]]...)
		out = append(out, "Message-ID: "+id...)
		return append(out, raw[loc[1]:]...)
	}
	return append([]byte("Message-ID: "+id+"\r\n"), raw...)
}

// FindMail returns every message in the Maildir of user for which match is true (notifications,
// bounces and DSNs, which do not carry the test's Message-ID at the top).
func (p *Postfix) FindMail(user string, match func(msg []byte) bool) ([][]byte, error) {
	var found [][]byte
	for _, sub := range []string{"new", "cur"} {
		dir := filepath.Join(p.MailDir, user, sub)
		ents, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read maildir: %w", err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("read maildir file: %w", err)
			}
			if match(b) {
				found = append(found, b)
			}
		}
	}
	return found, nil
}

// WaitMail waits until a message for which match is true is in the Maildir of user and returns the
// first one found.
func (p *Postfix) WaitMail(ctx context.Context, user string, match func(msg []byte) bool) ([]byte, error) {
	for {
		d, err := p.FindMail(user, match)
		if err != nil {
			return nil, err
		}
		if len(d) > 0 {
			return d[0], nil
		}
		if err := sleep(ctx); err != nil {
			return nil, fmt.Errorf("no matching message in %s: %w", filepath.Join(p.MailDir, user), err)
		}
	}
}

// DeliveredTo returns a Maildir match function: the message was delivered to addr (its first
// Delivered-To field, which the virtual delivery agent writes, equals addr, case-insensitively).
func DeliveredTo(addr string) func([]byte) bool {
	return func(b []byte) bool { return strings.EqualFold(HeaderValue(b, "Delivered-To"), addr) }
}
