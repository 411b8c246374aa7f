package smtpd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/mavis-filter/mavis/internal/mail"
)

// Handler checks and delivers one message.
type Handler interface {
	// Process runs after the final dot. ctx carries the child_timeout
	// deadline. For SMTP sessions the server sends Outcome.SMTP; for LMTP one
	// line per accepted recipient from Outcome.PerRcpt (RCPT order). A zero
	// or invalid Outcome is answered "451 4.5.0 Error in processing, ...".
	// m.Body is valid only until Process returns: the server closes it then.
	Process(ctx context.Context, m *mail.Message) mail.Outcome
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, m *mail.Message) mail.Outcome

// Process calls f.
func (f HandlerFunc) Process(ctx context.Context, m *mail.Message) mail.Outcome { return f(ctx, m) }

// Listener names a socket to listen on: Network "tcp" (Address
// "127.0.0.1:10024", "[::1]:10024") or "unix" (Address a path). LMTP makes the
// server greet with LMTP; SMTP clients may still switch with LHLO and back
// with EHLO/HELO, as in amavis.
type Listener struct {
	Network, Address string
	LMTP             bool
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("smtpd: server closed")

// maxWaiting bounds the accepted connections that wait for a free session
// slot; beyond it connections stay in the kernel's listen queue.
const maxWaiting = 256

// DefaultMaxServers is amavis's $max_servers default.
const DefaultMaxServers = 2

// Server is the SMTP/LMTP server. It serves at most maxServers sessions at
// once, across all its listeners; further connections are accepted but not
// greeted until a session ends (amavis: max_servers children each serving
// whole sessions).
type Server struct {
	handler Handler
	opts    func() *Options
	logger  *slog.Logger
	ids     *mail.LogIDs

	slots chan struct{} // sessions being served
	admit chan struct{} // connections accepted (served or waiting)

	// Session buffers (*bufio.Reader of readBufSize, *bufio.Writer of
	// spoolBufSize) reused across sessions: Postfix opens a connection per
	// delivery more often than not, and 96 KiB of fresh buffers per
	// message would be most of what a small message allocates.
	readers, spoolWriters sync.Pool

	hardCtx    context.Context // cancelled when a shutdown is forced
	hardCancel context.CancelFunc

	mu        sync.Mutex
	closing   bool
	done      chan struct{} // closed when Shutdown starts
	listeners map[net.Listener]struct{}
	sessions  map[*session]struct{}
	wg        sync.WaitGroup // connection goroutines
}

// New returns a server. opts is called at each new connection for the
// current settings snapshot (nil or a nil result means defaults);
// maxServers <= 0 means DefaultMaxServers; logger nil discards; ids nil
// makes a generator for this process.
func New(handler Handler, opts func() *Options, maxServers int, logger *slog.Logger, ids *mail.LogIDs) *Server {
	if maxServers <= 0 {
		maxServers = DefaultMaxServers
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if ids == nil {
		ids = mail.NewLogIDs()
	}
	if opts == nil {
		opts = func() *Options { return nil }
	}
	hctx, hcancel := context.WithCancel(context.Background())
	return &Server{
		handler:    handler,
		opts:       opts,
		logger:     logger,
		ids:        ids,
		slots:      make(chan struct{}, maxServers),
		admit:      make(chan struct{}, maxServers+maxWaiting),
		hardCtx:    hctx,
		hardCancel: hcancel,
		done:       make(chan struct{}),
		listeners:  map[net.Listener]struct{}{},
		sessions:   map[*session]struct{}{},
	}
}

// Options returns the settings snapshot a new connection would get, with
// defaults filled in.
func (s *Server) Options() Options {
	return s.opts().normalized()
}

// ListenAndServe listens on all listeners and serves them until Shutdown or
// ctx is cancelled. A stale Unix socket file is removed first. It returns
// after every listener's Serve returned, with the first error (nil after
// Shutdown).
func (s *Server) ListenAndServe(ctx context.Context, listeners []Listener) error {
	lns := make([]net.Listener, 0, len(listeners))
	for _, l := range listeners {
		ln, err := listen(ctx, l)
		if err != nil {
			for _, o := range lns {
				o.Close()
			}
			return err
		}
		lns = append(lns, ln)
	}
	errs := make(chan error, len(lns))
	for i, ln := range lns {
		go func() { errs <- s.Serve(ctx, ln, listeners[i].LMTP) }()
	}
	var first error
	for range lns {
		if err := <-errs; err != nil && !errors.Is(err, ErrServerClosed) && first == nil {
			first = err
		}
	}
	return first
}

func listen(ctx context.Context, l Listener) (net.Listener, error) {
	if l.Network == "unix" {
		if fi, err := os.Lstat(l.Address); err == nil && fi.Mode().Type() == fs.ModeSocket {
			os.Remove(l.Address) // stale socket of an earlier run
		}
	}
	// No TCP keep-alive probes on accepted connections (amavis sets none
	// either): the idle timeout ($smtpd_timeout) already ends sessions
	// with a vanished client, and enabling them costs four setsockopt
	// calls per connection, i.e. per message with Postfix.
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(ctx, l.Network, l.Address)
	if err != nil {
		return nil, fmt.Errorf("smtpd: listen %s %s: %w", l.Network, l.Address, err)
	}
	return ln, nil
}

// Serve accepts connections on ln and serves them (greeting with LMTP when
// lmtp is set) until Shutdown (ErrServerClosed) or until ctx is cancelled
// (ctx.Err(); sessions of this listener are then broken off at once). It
// closes ln and returns after all sessions it started have ended, or at
// once when a Shutdown grace period ran out.
func (s *Server) Serve(ctx context.Context, ln net.Listener, lmtp bool) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopHard := context.AfterFunc(s.hardCtx, cancel)
	defer stopHard()
	stopLn := context.AfterFunc(sctx, func() { ln.Close() })
	defer stopLn()

	var local sync.WaitGroup
	defer func() { // runs before cancel: graceful sessions finish
		finished := make(chan struct{})
		go func() {
			local.Wait()
			close(finished)
		}()
		select {
		case <-finished:
		case <-s.hardCtx.Done(): // forced: do not wait for a stuck handler
		}
	}()

	var backoff time.Duration
	for {
		select {
		case s.admit <- struct{}{}:
		case <-s.done:
			return ErrServerClosed
		case <-sctx.Done():
			return s.stopReason(ctx)
		}
		conn, err := ln.Accept()
		if err != nil {
			<-s.admit
			if s.isClosing() {
				return ErrServerClosed
			}
			if ctx.Err() != nil || sctx.Err() != nil {
				return s.stopReason(ctx)
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("smtpd: accept on %s: %w", ln.Addr(), err)
			}
			// EMFILE and the like: back off and retry.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.logger.Warn("smtpd: accept failed, retrying", "addr", ln.Addr().String(), "err", err, "in", backoff)
			select {
			case <-time.After(backoff):
			case <-sctx.Done():
			case <-s.done:
			}
			continue
		}
		backoff = 0
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			conn.Close()
			<-s.admit
			return ErrServerClosed
		}
		s.wg.Add(1)
		local.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer local.Done()
			defer func() { <-s.admit }()
			s.handleConn(sctx, conn, lmtp)
		}()
	}
}

func (s *Server) stopReason(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return ErrServerClosed
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// Shutdown stops accepting, lets sessions finish the message in flight
// (receiving or processing) and tells idle sessions
// "421 4.3.2 Service shutting down, closing channel"; connections still
// waiting for a session slot are closed unanswered. It waits for all
// sessions; when ctx ends first it breaks the remaining connections off,
// cancels the handlers' contexts and returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		close(s.done)
	}
	for ln := range s.listeners {
		ln.Close()
	}
	for sess := range s.sessions {
		sess.interrupt()
	}
	s.mu.Unlock()

	finished := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		s.hardCancel()
		return ctx.Err()
	}
}

// Close breaks off all sessions at once (a Shutdown with no grace).
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Shutdown(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// handleConn runs one connection: access check, wait for a session slot,
// then the session.
func (s *Server) handleConn(ctx context.Context, conn net.Conn, lmtp bool) {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	opts := s.opts().normalized()
	info := connInfo(conn, lmtp)
	if _, unix := conn.LocalAddr().(*net.UnixAddr); !unix && opts.ACL != nil {
		ip, err := netipAddr(info.RemoteIP)
		if err != nil || !opts.ACL(ip) {
			// amavis level -1
			s.logger.Warn(fmt.Sprintf("DENIED ACCESS from IP %s", info.RemoteIP))
			return
		}
	}

	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return
	case <-s.done:
		return
	}
	defer func() { <-s.slots }()

	sess := newSession(s, conn, &opts, info, lmtp)
	defer sess.release()
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	s.sessions[sess] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.sessions, sess)
		s.mu.Unlock()
	}()
	sess.serve(ctx)
}
