// Package logging builds mavis's log/slog logger: amavis-style lines
// ("(log_id) text") to stderr, a log file, or syslog ($DO_SYSLOG,
// $syslog_facility, $syslog_ident), with amavis's $log_level mapped onto slog
// levels.
//
// The per-message main log entry ("Passed CLEAN {RelayedInbound}, …") is
// formed by MainLine in mainline.go.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// LogIDKey is the attribute key carrying the amavis log id; the handler
// prints it as the "(log_id) " prefix instead of as key=value.
const LogIDKey = "log_id"

// Level maps an amavis $log_level (0..5) to the lowest slog level shown.
// mavis logs an amavis level-n line (n >= 1) at slog.Level(-n), level 0
// (the main entry) at Info, -1 at Warn and -2 at Error.
func Level(amavisLevel int) slog.Level {
	if amavisLevel <= 0 {
		return slog.LevelInfo
	}
	return slog.Level(-amavisLevel)
}

// Options says where logs go.
type Options struct {
	Syslog   bool   // DO_SYSLOG
	Facility string // syslog_facility, e.g. "mail"
	Ident    string // syslog_ident, e.g. "amavis"
	File     string // logfile; "" = stderr (when not syslog)
	Level    int    // log_level
	// Stderr is the writer used when neither syslog nor File applies
	// (os.Stderr when nil).
	Stderr io.Writer
}

// New returns the logger and a closer for the underlying sink.
func New(o Options) (*slog.Logger, io.Closer, error) {
	lv := new(slog.LevelVar)
	lv.Set(Level(o.Level))
	switch {
	case o.Syslog:
		fac, err := Facility(o.Facility)
		if err != nil {
			return nil, nil, err
		}
		ident := o.Ident
		if ident == "" {
			ident = "amavis"
		}
		w, err := syslog.New(fac|syslog.LOG_INFO, ident)
		if err != nil {
			// No syslog daemon (containers, CI): log to stderr rather than
			// refuse to run, and say so.
			o.Syslog = false
			lg, c, err2 := New(o)
			if err2 == nil {
				lg.Warn("syslog unavailable, logging to stderr instead", "err", err)
			}
			return lg, c, err2
		}
		return slog.New(&Handler{sys: w, level: lv, mu: new(sync.Mutex)}), w, nil
	case o.File != "":
		f, err := os.OpenFile(o.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("logging: open logfile: %w", err)
		}
		return slog.New(&Handler{w: f, stamp: true, level: lv, mu: new(sync.Mutex)}), f, nil
	default:
		w := o.Stderr
		if w == nil {
			w = os.Stderr
		}
		return slog.New(&Handler{w: w, stamp: true, level: lv, mu: new(sync.Mutex)}), io.NopCloser(nil), nil
	}
}

// Facility parses a syslog facility name ("mail", "local0" …).
func Facility(name string) (syslog.Priority, error) {
	m := map[string]syslog.Priority{
		"kern": syslog.LOG_KERN, "user": syslog.LOG_USER, "mail": syslog.LOG_MAIL,
		"daemon": syslog.LOG_DAEMON, "auth": syslog.LOG_AUTH, "syslog": syslog.LOG_SYSLOG,
		"lpr": syslog.LOG_LPR, "news": syslog.LOG_NEWS, "uucp": syslog.LOG_UUCP,
		"cron": syslog.LOG_CRON, "authpriv": syslog.LOG_AUTHPRIV, "ftp": syslog.LOG_FTP,
		"local0": syslog.LOG_LOCAL0, "local1": syslog.LOG_LOCAL1, "local2": syslog.LOG_LOCAL2,
		"local3": syslog.LOG_LOCAL3, "local4": syslog.LOG_LOCAL4, "local5": syslog.LOG_LOCAL5,
		"local6": syslog.LOG_LOCAL6, "local7": syslog.LOG_LOCAL7,
	}
	if name == "" {
		return syslog.LOG_MAIL, nil
	}
	p, ok := m[strings.ToLower(name)]
	if !ok {
		return 0, fmt.Errorf("logging: unknown syslog facility %q", name)
	}
	return p, nil
}

// Handler is a slog.Handler printing amavis-style lines.
type Handler struct {
	w     io.Writer
	sys   *syslog.Writer
	stamp bool
	level slog.Leveler
	mu    *sync.Mutex

	logID string
	attrs []slog.Attr
	group string
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = slices.Clone(h.attrs)
	for _, a := range as {
		if a.Key == LogIDKey && h.group == "" {
			h2.logID = a.Value.String()
			continue
		}
		if h.group != "" {
			a.Key = h.group + "." + a.Key
		}
		h2.attrs = append(h2.attrs, a)
	}
	return &h2
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	h2 := *h
	if h.group != "" {
		name = h.group + "." + name
	}
	h2.group = name
	return &h2
}

// Handle implements slog.Handler.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	if h.stamp {
		t := r.Time
		if t.IsZero() {
			t = time.Now()
		}
		b.WriteString(t.Format("Jan _2 15:04:05.000 "))
	}
	logID := h.logID
	var extra []slog.Attr
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == LogIDKey && h.group == "" {
			logID = a.Value.String()
			return true
		}
		if h.group != "" {
			a.Key = h.group + "." + a.Key
		}
		extra = append(extra, a)
		return true
	})
	if logID != "" {
		b.WriteString("(")
		b.WriteString(logID)
		b.WriteString(") ")
	}
	// amavis marks warnings "(!)" and errors "(!!)".
	switch {
	case r.Level >= slog.LevelError:
		b.WriteString("(!!)")
	case r.Level >= slog.LevelWarn:
		b.WriteString("(!)")
	}
	b.WriteString(r.Message)
	for _, a := range append(slices.Clone(h.attrs), extra...) {
		writeAttr(&b, a)
	}
	line := b.String()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sys != nil {
		switch {
		case r.Level >= slog.LevelError:
			return h.sys.Err(line)
		case r.Level >= slog.LevelWarn:
			return h.sys.Warning(line)
		case r.Level >= slog.LevelInfo:
			return h.sys.Notice(line)
		default:
			return h.sys.Debug(line)
		}
	}
	_, err := io.WriteString(h.w, line+"\n")
	return err
}

func writeAttr(b *strings.Builder, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		for _, g := range a.Value.Group() {
			g.Key = a.Key + "." + g.Key
			writeAttr(b, g)
		}
		return
	}
	b.WriteByte(' ')
	b.WriteString(a.Key)
	b.WriteByte('=')
	s := a.Value.String()
	if s == "" || strings.ContainsAny(s, " \t\"=") {
		fmt.Fprintf(b, "%q", s)
	} else {
		b.WriteString(s)
	}
}
