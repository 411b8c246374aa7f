package harness

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"time"
)

// Message is a test message: envelope plus a small RFC 5322 text with a unique Message-ID.
type Message struct {
	From      string   // envelope sender; "" is the null sender <>
	To        []string // envelope recipients
	MessageID string   // with angle brackets
	Subject   string
	Headers   []string // extra header lines, e.g. "X-Test: 1"
	Body      string   // lines separated by \n or \r\n
}

// UniqueID returns prefix followed by 16 random hex digits.
func UniqueID(prefix string) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return prefix + hex.EncodeToString(b[:])
}

// NewMessage returns a message from sender@it.test to the given recipients with a unique Message-ID
// and Subject.
func NewMessage(to ...string) *Message {
	id := UniqueID("it-")
	return &Message{
		From:      "sender@" + Domain,
		To:        to,
		MessageID: "<" + id + "@" + Domain + ">",
		Subject:   "mavis integration test " + id,
		Body:      "Hello from the mavis integration tests.\nMessage " + id + ".\n",
	}
}

// PadBody appends text lines to the body until the message is at least size bytes long.
func (m *Message) PadBody(size int) {
	var b strings.Builder
	b.WriteString(m.Body)
	line := strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyz", 2)[:72] + "\n"
	for n := len(m.Bytes()); n < size; n += len(line) + 1 {
		b.WriteString(line)
	}
	m.Body = b.String()
}

// Bytes renders the message with CRLF line ends (not dot-stuffed).
func (m *Message) Bytes() []byte {
	var b bytes.Buffer
	from := m.From
	if from == "" {
		from = "MAILER-DAEMON@" + Domain
	}
	fmt.Fprintf(&b, "From: <%s>\r\n", from)
	if len(m.To) > 0 {
		fmt.Fprintf(&b, "To: <%s>\r\n", strings.Join(m.To, ">, <"))
	}
	fmt.Fprintf(&b, "Subject: %s\r\n", m.Subject)
	fmt.Fprintf(&b, "Message-ID: %s\r\n", m.MessageID)
	fmt.Fprintf(&b, "Date: %s\r\n", time.Now().Format(time.RFC1123Z))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n")
	for _, h := range m.Headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(crlf([]byte(m.Body)))
	return b.Bytes()
}

// crlf turns every line end into CRLF and makes the text end with one.
func crlf(p []byte) []byte {
	p = bytes.ReplaceAll(p, []byte("\r\n"), []byte("\n"))
	p = bytes.ReplaceAll(p, []byte("\n"), []byte("\r\n"))
	if len(p) > 0 && !bytes.HasSuffix(p, []byte("\r\n")) {
		p = append(p, '\r', '\n')
	}
	return p
}

// Reply is an SMTP reply; Text holds the lines after the code, joined with "\n".
type Reply struct {
	Code int
	Text string
}

func (r Reply) String() string {
	return fmt.Sprintf("%d %s", r.Code, strings.ReplaceAll(r.Text, "\n", " / "))
}

// OK reports a 2xx reply.
func (r Reply) OK() bool { return r.Code >= 200 && r.Code < 300 }

// DialOptions tune a Session.
type DialOptions struct {
	LocalIP string        // source address, e.g. "127.0.0.2" to look like another client
	Helo    string        // EHLO/LHLO name; default client.it.test
	LMTP    bool          // speak LMTP (LHLO, one reply per recipient after DATA)
	Timeout time.Duration // per-connection deadline when ctx has none; default 2 minutes
}

// Session is one SMTP or LMTP client connection that a test can drive step by step.
type Session struct {
	conn net.Conn
	tp   *textproto.Conn
	opt  DialOptions
	stop func() bool
	// Ext holds the EHLO/LHLO keywords of the server (upper case) and their parameters.
	Ext map[string]string
	// Banner is the 220 greeting.
	Banner Reply
	rcpts  int
}

// Dial connects to addr and reads the greeting (which must be 220).
func Dial(ctx context.Context, addr string, opt DialOptions) (*Session, error) {
	if opt.Helo == "" {
		opt.Helo = "client." + Domain
	}
	if opt.Timeout == 0 {
		opt.Timeout = 2 * time.Minute
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	if opt.LocalIP != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(opt.LocalIP)}
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(opt.Timeout)
	}
	_ = conn.SetDeadline(dl)
	s := &Session{conn: conn, tp: textproto.NewConn(conn), opt: opt}
	s.stop = context.AfterFunc(ctx, func() { _ = conn.Close() })
	s.Banner, err = s.read()
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("greeting from %s: %w", addr, err)
	}
	if s.Banner.Code != 220 {
		s.Close()
		return nil, fmt.Errorf("greeting from %s: %v", addr, s.Banner)
	}
	return s, nil
}

// Conn is the underlying connection (to write raw bytes or to drop it).
func (s *Session) Conn() net.Conn { return s.conn }

// Close drops the connection without QUIT.
func (s *Session) Close() {
	s.stop()
	_ = s.conn.Close()
}

func (s *Session) read() (Reply, error) {
	code, msg, err := s.tp.ReadResponse(0)
	if err != nil && code == 0 {
		return Reply{}, fmt.Errorf("read reply: %w", err)
	}
	return Reply{Code: code, Text: msg}, nil
}

// Cmd sends one command line and reads its reply.
func (s *Session) Cmd(format string, args ...any) (Reply, error) {
	if err := s.tp.PrintfLine(format, args...); err != nil {
		return Reply{}, fmt.Errorf("send %q: %w", strings.Fields(format)[0], err)
	}
	return s.read()
}

// Hello sends EHLO (LHLO for LMTP) and records the extensions.
func (s *Session) Hello() (Reply, error) {
	verb := "EHLO"
	if s.opt.LMTP {
		verb = "LHLO"
	}
	r, err := s.Cmd("%s %s", verb, s.opt.Helo)
	if err != nil {
		return r, err
	}
	s.Ext = map[string]string{}
	if r.Code == 250 {
		for _, l := range strings.Split(r.Text, "\n")[1:] {
			k, v, _ := strings.Cut(l, " ")
			s.Ext[strings.ToUpper(k)] = v
		}
	}
	return r, nil
}

// Mail sends MAIL FROM:<from> with optional parameters.
func (s *Session) Mail(from string, params ...string) (Reply, error) {
	s.rcpts = 0
	return s.Cmd("MAIL FROM:<%s>%s", from, joinParams(params))
}

// Rcpt sends RCPT TO:<to> with optional parameters.
func (s *Session) Rcpt(to string, params ...string) (Reply, error) {
	r, err := s.Cmd("RCPT TO:<%s>%s", to, joinParams(params))
	if err == nil && r.OK() {
		s.rcpts++
	}
	return r, err
}

func joinParams(p []string) string {
	if len(p) == 0 {
		return ""
	}
	return " " + strings.Join(p, " ")
}

// Data sends DATA; the reply must be 354 before WriteData.
func (s *Session) Data() (Reply, error) { return s.Cmd("DATA") }

// WriteData sends message text (CRLF-normalised and dot-stuffed) without the final dot; a test can stop
// here to leave the server mid-DATA.
func (s *Session) WriteData(msg []byte) error {
	w := bufio.NewWriterSize(s.conn, 64*1024)
	for _, line := range bytes.SplitAfter(crlf(msg), []byte("\r\n")) {
		if len(line) > 0 && line[0] == '.' {
			if err := w.WriteByte('.'); err != nil {
				return fmt.Errorf("write data: %w", err)
			}
		}
		if _, err := w.Write(line); err != nil {
			return fmt.Errorf("write data: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write data: %w", err)
	}
	return nil
}

// EndData sends the final dot and reads the reply (LMTP: one reply per accepted recipient).
func (s *Session) EndData() ([]Reply, error) {
	if _, err := s.conn.Write([]byte(".\r\n")); err != nil {
		return nil, fmt.Errorf("write end of data: %w", err)
	}
	n := 1
	if s.opt.LMTP {
		n = s.rcpts
	}
	out := make([]Reply, 0, n)
	for range n {
		r, err := s.read()
		if err != nil {
			return out, fmt.Errorf("reply to end of data: %w", err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Quit sends QUIT and closes the connection.
func (s *Session) Quit() error {
	_, err := s.Cmd("QUIT")
	s.Close()
	return err
}

// SendError is a transaction that got a reply other than the expected one.
type SendError struct {
	Stage string
	Reply Reply
}

func (e *SendError) Error() string { return fmt.Sprintf("%s: %v", e.Stage, e.Reply) }

// Send delivers m to addr in one session and returns the reply to the end of data (LMTP: the first
// recipient's). Any unexpected reply is a *SendError.
func Send(ctx context.Context, addr string, m *Message, opt DialOptions) (Reply, error) {
	s, err := Dial(ctx, addr, opt)
	if err != nil {
		return Reply{}, err
	}
	defer s.Close()
	step := func(stage string, want int, r Reply, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", stage, err)
		}
		if r.Code != want && (want != 250 || !r.OK()) {
			return &SendError{Stage: stage, Reply: r}
		}
		return nil
	}
	r, err := s.Hello()
	if err := step("EHLO", 250, r, err); err != nil {
		return r, err
	}
	r, err = s.Mail(m.From)
	if err := step("MAIL", 250, r, err); err != nil {
		return r, err
	}
	for _, to := range m.To {
		r, err = s.Rcpt(to)
		if err := step("RCPT "+to, 250, r, err); err != nil {
			return r, err
		}
	}
	r, err = s.Data()
	if err := step("DATA", 354, r, err); err != nil {
		return r, err
	}
	if err := s.WriteData(m.Bytes()); err != nil {
		return Reply{}, err
	}
	rs, err := s.EndData()
	if err != nil {
		return Reply{}, err
	}
	for _, r := range rs {
		if !r.OK() {
			return r, &SendError{Stage: "end of data", Reply: r}
		}
	}
	_ = s.Quit()
	if len(rs) == 0 {
		return Reply{}, errors.New("no reply to end of data")
	}
	return rs[0], nil
}
