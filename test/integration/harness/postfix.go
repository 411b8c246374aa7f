package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/mail"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Postfix is the Postfix test instance.
type Postfix struct {
	Base      string // /var/tmp/mavis-it
	ConfigDir string // config_directory, for postfix/postqueue/postsuper -c
	MailDir   string // virtual_mailbox_base: <MailDir>/<user>/{new,cur,tmp}
	LogFile   string // maillog_file
}

// pollInterval is how often the Wait functions look again.
const pollInterval = 50 * time.Millisecond

// QueueEntry is one message in the queue, as printed by `postqueue -j`.
type QueueEntry struct {
	QueueName   string           `json:"queue_name"` // incoming, active, deferred, hold, maildrop
	QueueID     string           `json:"queue_id"`
	ArrivalTime int64            `json:"arrival_time"`
	MessageSize int64            `json:"message_size"`
	Sender      string           `json:"sender"`
	Recipients  []QueueRecipient `json:"recipients"`
}

// QueueRecipient is a recipient of a queued message; DelayReason is set for deferred mail.
type QueueRecipient struct {
	Address     string `json:"address"`
	DelayReason string `json:"delay_reason"`
}

// HasRecipient reports whether the message is queued for addr (case-insensitive).
func (q QueueEntry) HasRecipient(addr string) bool {
	for _, r := range q.Recipients {
		if strings.EqualFold(r.Address, addr) {
			return true
		}
	}
	return false
}

func (p *Postfix) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, append([]string{"-c", p.ConfigDir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// Queue lists every queued message (postqueue -j).
func (p *Postfix) Queue(ctx context.Context) ([]QueueEntry, error) {
	out, err := p.run(ctx, "postqueue", "-j")
	if err != nil {
		return nil, err
	}
	var entries []QueueEntry
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var e QueueEntry
		if err := dec.Decode(&e); errors.Is(err, io.EOF) {
			return entries, nil
		} else if err != nil {
			return nil, fmt.Errorf("parse postqueue -j: %w", err)
		}
		entries = append(entries, e)
	}
}

// QueuedFor lists the queued messages that have addr among their recipients.
func (p *Postfix) QueuedFor(ctx context.Context, addr string) ([]QueueEntry, error) {
	all, err := p.Queue(ctx)
	if err != nil {
		return nil, err
	}
	var out []QueueEntry
	for _, e := range all {
		if e.HasRecipient(addr) {
			out = append(out, e)
		}
	}
	return out, nil
}

// WaitDeferred waits until a message for addr sits in the deferred queue and returns it.
func (p *Postfix) WaitDeferred(ctx context.Context, addr string) (QueueEntry, error) {
	for {
		es, err := p.QueuedFor(ctx, addr)
		if err != nil {
			if ctx.Err() != nil {
				return QueueEntry{}, fmt.Errorf("no deferred mail for %s: %w", addr, ctx.Err())
			}
			return QueueEntry{}, err
		}
		for _, e := range es {
			if e.QueueName == "deferred" {
				return e, nil
			}
		}
		if err := sleep(ctx); err != nil {
			return QueueEntry{}, fmt.Errorf("no deferred mail for %s: %w (queue: %+v)", addr, err, es)
		}
	}
}

// Flush asks Postfix to deliver the deferred mail now (postqueue -f).
func (p *Postfix) Flush(ctx context.Context) error {
	_, err := p.run(ctx, "postqueue", "-f")
	return err
}

// Delete removes the given messages from the queue (postsuper -d); use it for the caller's own mail only.
func (p *Postfix) Delete(ctx context.Context, queueIDs ...string) error {
	for _, id := range queueIDs {
		if _, err := p.run(ctx, "postsuper", "-d", id); err != nil {
			return err
		}
	}
	return nil
}

// DeleteFor removes every queued message for addr (cleanup of a test's leftovers).
func (p *Postfix) DeleteFor(ctx context.Context, addr string) error {
	es, err := p.QueuedFor(ctx, addr)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(es))
	for _, e := range es {
		ids = append(ids, e.QueueID)
	}
	return p.Delete(ctx, ids...)
}

// LogOffset returns the current size of the mail log; pass it to LogSince or WaitLog.
func (p *Postfix) LogOffset() int64 {
	st, err := os.Stat(p.LogFile)
	if err != nil {
		return 0
	}
	return st.Size()
}

// LogSince returns the mail log written after offset.
func (p *Postfix) LogSince(offset int64) (string, error) {
	f, err := os.Open(p.LogFile)
	if err != nil {
		return "", fmt.Errorf("open postfix log: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return "", fmt.Errorf("seek postfix log: %w", err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return "", fmt.Errorf("read postfix log: %w", err)
	}
	return string(b), nil
}

// WaitLog waits until a line written after offset matches re, and returns that line.
func (p *Postfix) WaitLog(ctx context.Context, offset int64, re *regexp.Regexp) (string, error) {
	for {
		s, err := p.LogSince(offset)
		if err != nil {
			return "", err
		}
		sc := bufio.NewScanner(strings.NewReader(s))
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			if re.MatchString(sc.Text()) {
				return sc.Text(), nil
			}
		}
		if err := sleep(ctx); err != nil {
			return "", fmt.Errorf("postfix log: no line matching %q: %w", re, err)
		}
	}
}

// MailboxOf returns the Maildir user of an address of the test domain: "user" for user+tag@it.test.
// Users the instance does not know (see scripts/postfix-it.sh) are delivered to "catchall".
func MailboxOf(addr string) string {
	local, _, _ := strings.Cut(strings.ToLower(addr), "@")
	local, _, _ = strings.Cut(local, "+")
	return local
}

// Delivered returns every copy of the message with messageID (with angle brackets, as in the header)
// found in the Maildir of user; more than one means duplicates.
func (p *Postfix) Delivered(user, messageID string) ([][]byte, error) {
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
			if errors.Is(err, fs.ErrNotExist) { // moved new → cur meanwhile
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("read maildir file: %w", err)
			}
			if HeaderValue(b, "Message-ID") == messageID {
				found = append(found, b)
			}
		}
	}
	return found, nil
}

// CountDelivered returns how many copies of messageID are in the Maildir of user.
func (p *Postfix) CountDelivered(user, messageID string) (int, error) {
	d, err := p.Delivered(user, messageID)
	return len(d), err
}

// WaitDelivered waits until the message with messageID is in the Maildir of user and returns its bytes
// (the first copy found).
func (p *Postfix) WaitDelivered(ctx context.Context, user, messageID string) ([]byte, error) {
	for {
		d, err := p.Delivered(user, messageID)
		if err != nil {
			return nil, err
		}
		if len(d) > 0 {
			return d[0], nil
		}
		if err := sleep(ctx); err != nil {
			return nil, fmt.Errorf("message %s not delivered to %s: %w", messageID, filepath.Join(p.MailDir, user), err)
		}
	}
}

// HeaderValue returns the first value of header field name in a message (unfolded), or "".
func HeaderValue(msg []byte, name string) string {
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(m.Header.Get(name))
}

// HeaderValues returns every value of header field name, top first, unfolded.
func HeaderValues(msg []byte, name string) []string {
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		return nil
	}
	vs := m.Header[textproto.CanonicalMIMEHeaderKey(name)]
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return out
}

func sleep(ctx context.Context) error {
	t := time.NewTimer(pollInterval)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Settle waits until Postfix holds no mail for addr any more and stays so for quiet, so that a
// duplicate still on its way would be counted.
func (p *Postfix) Settle(ctx context.Context, addr string, quiet time.Duration) error {
	calm := time.Time{}
	for {
		es, err := p.QueuedFor(ctx, addr)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("queue for %s did not settle: %w", addr, ctx.Err())
			}
			return err
		}
		switch {
		case len(es) > 0:
			calm = time.Time{}
		case calm.IsZero():
			calm = time.Now()
		case time.Since(calm) >= quiet:
			return nil
		}
		if err := sleep(ctx); err != nil {
			return fmt.Errorf("queue for %s did not settle (%d queued): %w", addr, len(es), err)
		}
	}
}
