package quarantine

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// FileMode is the mode of quarantine files (amavis creates them 0640).
const FileMode os.FileMode = 0o640

// DirMode is the mode of the subdirectories Store creates (amavis: 0750).
const DirMode os.FileMode = 0o750

// Request is one message to quarantine with a local: method.
type Request struct {
	// Dir is $QUARANTINEDIR, an existing directory.
	Dir string
	// SubdirLevels is $quarantine_subdir_levels: 0 puts files straight into
	// Dir, 1 (Debian's value) or more into Dir/<first char of mail_id>/.
	SubdirLevels int
	// Method is the quarantine method, e.g. "local:virus-%m" or
	// "local:spam-%m.gz"; "local:" alone means "%m".
	Method string
	// To is the quarantine_to name the message is delivered to, e.g.
	// "virus-quarantine"; amavis writes it as Delivered-To.
	To string

	MailID       string    // %m, also X-Quarantine-ID
	LogID        string    // %n
	PartitionTag string    // %P
	BodyDigest   string    // %b, hex
	Received     time.Time // %i, in local time

	// Sender is the envelope sender without angle brackets ("" = <>).
	Sender string
	// Recipients are all envelope recipients (X-Envelope-To), Blocked the
	// ones that did not get the message (X-Envelope-To-Blocked).
	Recipients []string
	Blocked    []string
	// Extra are further header fields to insert after X-Quarantine-ID,
	// complete with line ends (CRLF or LF): amavis puts X-Amavis-Alert,
	// X-Spam-* and its Received: field there.
	Extra []byte
	// Body is the message as received (header and body).
	Body io.Reader
}

// Location tells where a message was quarantined.
type Location struct {
	// Path is the file's full name.
	Path string
	// Rel is the name relative to QUARANTINEDIR, as amavis logs it
	// ("quarantine: 7/virus-7k45DZ5zqMRC", the %q macro) and stores it in
	// SQL (msgs.quar_loc).
	Rel string
	// Type is amavis's quar_type letter: "F" plain file, "Z" gzipped file.
	Type string
}

// String returns the location as amavis logs it.
func (l Location) String() string { return l.Rel }

// Template returns the file name template of a local: method ("%m" when
// the method gives none).
func Template(method string) (string, error) {
	proto, rest, ok := strings.Cut(method, ":")
	if !ok || !strings.EqualFold(proto, "local") {
		return "", fmt.Errorf("quarantine method %q: only local:<template> is supported here", method)
	}
	if rest == "" {
		rest = "%m"
	}
	return rest, nil
}

// ExpandName expands a quarantine name template as amavis does: %b body
// digest, %P partition tag, %m mail_id, %n log id, %i compact ISO-8601
// local time (20240601T120000), %% a percent sign; other %x stay as they
// are.
func ExpandName(tmpl string, r *Request) string {
	var b strings.Builder
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if c != '%' || i+1 >= len(tmpl) {
			b.WriteByte(c)
			continue
		}
		i++
		switch tmpl[i] {
		case 'b':
			b.WriteString(r.BodyDigest)
		case 'P':
			b.WriteString(r.PartitionTag)
		case 'm':
			b.WriteString(r.MailID)
		case 'n':
			b.WriteString(r.LogID)
		case 'i':
			b.WriteString(r.Received.Local().Format("20060102T150405"))
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(tmpl[i])
		}
	}
	return b.String()
}

// target computes the final path, its name relative to Dir and the
// subdirectory to prepare ("" if none).
func target(r *Request) (path, rel, subdir string, err error) {
	tmpl, err := Template(r.Method)
	if err != nil {
		return "", "", "", err
	}
	name := ExpandName(tmpl, r)
	if name == "" || strings.ContainsRune(name, 0) || strings.HasSuffix(name, "/") {
		return "", "", "", fmt.Errorf("quarantine: bad file name %q from template %q", name, tmpl)
	}
	dir, base := "", name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		dir, base = name[:i+1], name[i+1:]
	}
	if r.SubdirLevels >= 1 {
		if r.MailID == "" || !isAlnum(r.MailID[0]) {
			return "", "", "", fmt.Errorf("quarantine: unexpected first character of mail_id %q for a subdirectory", r.MailID)
		}
		subdir = dir + r.MailID[:1]
		rel = subdir + "/" + base
	} else {
		rel = dir + base
	}
	clean := filepath.Clean(filepath.FromSlash(rel))
	if filepath.IsAbs(clean) || clean == "." || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", "", "", fmt.Errorf("quarantine: file name %q leaves QUARANTINEDIR", rel)
	}
	return filepath.Join(r.Dir, clean), filepath.ToSlash(clean), subdir, nil
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

// Store quarantines the message and returns its location once the file and
// its directory entry are on stable storage. Any error means the message is
// not quarantined (a partial file is removed); the caller tempfails.
func Store(ctx context.Context, r Request) (Location, error) {
	if r.Body == nil {
		return Location{}, errors.New("quarantine: nil body")
	}
	if r.Dir == "" {
		return Location{}, errors.New("quarantine: QUARANTINEDIR is not set")
	}
	st, err := os.Stat(r.Dir)
	if err != nil {
		return Location{}, fmt.Errorf("quarantine: QUARANTINEDIR: %w", err)
	}
	if !st.IsDir() {
		return Location{}, fmt.Errorf("quarantine: QUARANTINEDIR %s is not a directory (mbox quarantine is not supported)", r.Dir)
	}
	path, rel, subdir, err := target(&r)
	if err != nil {
		return Location{}, err
	}
	if subdir != "" {
		if err := makeSubdirs(r.Dir, subdir); err != nil {
			return Location{}, err
		}
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return Location{}, fmt.Errorf("quarantine: create %s: %w", dir, err)
	}
	if _, err := os.Lstat(path); err == nil {
		return Location{}, fmt.Errorf("quarantine: file %s already exists, refuse to overwrite", path)
	}
	loc := Location{Path: path, Rel: rel, Type: "F"}
	gz := strings.HasSuffix(path, ".gz")
	if gz {
		loc.Type = "Z"
	}
	if err := writeFile(ctx, &r, dir, path, gz); err != nil {
		return Location{}, err
	}
	return loc, nil
}

// makeSubdirs creates the amavis subdirectory set A-Z a-z 0-9 under the
// parent of subdir when subdir itself is missing.
func makeSubdirs(root, subdir string) error {
	full := filepath.Join(root, filepath.FromSlash(subdir))
	if _, err := os.Stat(full); err == nil || !errors.Is(err, os.ErrNotExist) {
		return nil // exists, or a different error that the write will report
	}
	parent := filepath.Dir(full)
	if err := os.MkdirAll(parent, DirMode); err != nil {
		return fmt.Errorf("quarantine: create %s: %w", parent, err)
	}
	const names = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	for i := 0; i < len(names); i++ {
		d := filepath.Join(parent, names[i:i+1])
		if err := os.Mkdir(d, DirMode); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("quarantine: create subdirectory %s: %w", d, err)
		}
	}
	if err := syncDir(parent); err != nil {
		return fmt.Errorf("quarantine: sync %s: %w", parent, err)
	}
	return nil
}

func writeFile(ctx context.Context, r *Request, dir, path string, gz bool) (err error) {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(dir, "."+filepath.Base(path)+".tmp-"+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, FileMode)
	if err != nil {
		return fmt.Errorf("quarantine: create %s: %w", tmp, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(FileMode); err != nil { // whatever the umask
		return fmt.Errorf("quarantine: chmod %s: %w", tmp, err)
	}
	bw := bufio.NewWriterSize(f, 64<<10)
	var w io.Writer = bw
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(bw)
		w = zw
	}
	if err := writeMessage(ctx, w, r, true); err != nil {
		return fmt.Errorf("quarantine: write %s: %w", path, err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return fmt.Errorf("quarantine: write %s: %w", path, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("quarantine: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("quarantine: fsync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("quarantine: close %s: %w", path, err)
	}
	// A hard link never replaces an existing file (amavis opens with
	// O_EXCL and refuses to overwrite).
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("quarantine: file %s already exists, refuse to overwrite", path)
		}
		return fmt.Errorf("quarantine: link %s: %w", path, err)
	}
	if err := os.Remove(tmp); err != nil {
		os.Remove(path)
		return fmt.Errorf("quarantine: remove %s: %w", tmp, err)
	}
	if err := syncDir(dir); err != nil {
		os.Remove(path)
		return fmt.Errorf("quarantine: fsync directory %s: %w", dir, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Prefix returns the header fields amavis puts in front of a quarantined
// message, LF line ends: Return-Path, Delivered-To, X-Envelope-From,
// X-Envelope-To, X-Envelope-To-Blocked, X-Quarantine-ID (when MailID is
// set), then Extra.
func Prefix(r *Request) []byte {
	var b bytes.Buffer
	b.WriteString("Return-Path: " + angle(r.Sender) + "\n")
	if r.To != "" {
		b.WriteString(foldList("Delivered-To", []string{r.To}, ", "))
	}
	b.WriteString("X-Envelope-From: " + angle(r.Sender) + "\n")
	b.WriteString(foldList("X-Envelope-To", angles(r.Recipients), ","))
	b.WriteString(foldList("X-Envelope-To-Blocked", angles(r.Blocked), ","))
	if r.MailID != "" {
		b.WriteString("X-Quarantine-ID: <" + r.MailID + ">\n")
	}
	b.Write(toLF(r.Extra))
	if len(r.Extra) > 0 && r.Extra[len(r.Extra)-1] != '\n' {
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// WriteCopy writes the quarantine copy of r — the prefix fields, then the
// message without its own Return-Path fields, with LF line ends, as amavis
// stores it — to w. localDelivery keeps the Return-Path and Delivered-To
// fields of the prefix, which amavis writes for file quarantine only (not
// for SQL).
func WriteCopy(ctx context.Context, w io.Writer, r *Request, localDelivery bool) error {
	return writeMessage(ctx, w, r, localDelivery)
}

// writeMessage writes the prefix and the message, without the message's
// own Return-Path fields, with LF line ends.
func writeMessage(ctx context.Context, w io.Writer, r *Request, localDelivery bool) error {
	prefix := Prefix(r)
	if !localDelivery {
		var kept []byte
		for _, line := range bytes.SplitAfter(prefix, []byte("\n")) {
			if bytes.HasPrefix(line, []byte("Return-Path:")) || bytes.HasPrefix(line, []byte("Delivered-To:")) {
				continue
			}
			kept = append(kept, line...)
		}
		prefix = kept
	}
	if _, err := w.Write(prefix); err != nil {
		return err
	}
	lf := &lfWriter{w: w}
	br := bufio.NewReaderSize(&ctxReader{ctx: ctx, r: r.Body}, 64<<10)
	skipping := false // inside a Return-Path field
	for inHeader := true; inHeader; {
		line, err := br.ReadSlice('\n')
		full := errors.Is(err, bufio.ErrBufferFull)
		if len(line) > 0 {
			if isBlank(line) {
				inHeader = false
			} else if line[0] != ' ' && line[0] != '\t' {
				skipping = len(line) >= 12 && strings.EqualFold(string(line[:12]), "Return-Path:")
			}
			if !skipping {
				if _, werr := lf.Write(line); werr != nil {
					return werr
				}
			}
		}
		for full { // the rest of a very long line
			line, err = br.ReadSlice('\n')
			full = errors.Is(err, bufio.ErrBufferFull)
			if !skipping {
				if _, werr := lf.Write(line); werr != nil {
					return werr
				}
			}
		}
		if err == io.EOF {
			return lf.Flush()
		}
		if err != nil {
			return err
		}
	}
	if _, err := br.WriteTo(lf); err != nil {
		return err
	}
	return lf.Flush()
}

func isBlank(l []byte) bool {
	return len(l) == 1 && l[0] == '\n' || len(l) == 2 && l[0] == '\r' && l[1] == '\n'
}

// angle is amavis's qquote_rfc2821_local: the address in angle brackets,
// its local part quoted when it is not a dot-atom.
func angle(a string) string {
	local, domain := a, ""
	if i := strings.LastIndexByte(a, '@'); i >= 0 {
		local, domain = a[:i], a[i:]
	}
	if local != "" && !dotAtom(local) {
		local = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(local) + `"`
	}
	return "<" + local + domain + ">"
}

func dotAtom(s string) bool {
	if strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isAlnum(c) || c >= 0x80 || strings.IndexByte("!#$%&'*+-/=?^_`{|}~.", c) >= 0) {
			return false
		}
	}
	return true
}

func angles(l []string) []string {
	out := make([]string, len(l))
	for i, a := range l {
		out[i] = angle(a)
	}
	return out
}

// foldList writes "Name: a,b" folded as amavis's structured wrap does: the
// items are joined on one line while it stays within 78 characters, and
// continue on lines starting with a space.
func foldList(name string, items []string, sep string) string {
	if len(items) == 0 {
		return name + ":\n"
	}
	var b strings.Builder
	line := name + ": " + items[0]
	for _, it := range items[1:] {
		line += strings.TrimRight(sep, " ")
		if len(line)+1+len(it) <= 78 {
			line += " " + it
			continue
		}
		b.WriteString(line + "\n")
		line = " " + it
	}
	b.WriteString(line + "\n")
	return b.String()
}

// toLF turns CRLF line ends into LF.
func toLF(b []byte) []byte {
	if !bytes.Contains(b, []byte("\r\n")) {
		return b
	}
	return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
}

// lfWriter turns CRLF into LF in a stream, holding back a final CR until
// it knows what follows.
type lfWriter struct {
	w      io.Writer
	heldCR bool
	buf    []byte
}

func (l *lfWriter) Write(p []byte) (int, error) {
	l.buf = l.buf[:0]
	if l.heldCR {
		if len(p) > 0 && p[0] == '\n' {
			// CRLF split across writes: drop the CR
		} else {
			l.buf = append(l.buf, '\r')
		}
		l.heldCR = false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '\r' {
			if i+1 == len(p) {
				l.heldCR = true
				continue
			}
			if p[i+1] == '\n' {
				continue
			}
		}
		l.buf = append(l.buf, c)
	}
	if _, err := l.w.Write(l.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes a CR still held back at the end of the stream.
func (l *lfWriter) Flush() error {
	if l.heldCR {
		l.heldCR = false
		_, err := l.w.Write([]byte{'\r'})
		return err
	}
	return nil
}

// ctxReader stops reading once the context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
