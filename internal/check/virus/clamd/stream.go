package clamd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// Object is one thing to scan by streaming: an io.ReaderAt of Size bytes, or
// the file at Path (opened when its turn comes, so a long list of parts does
// not hold many descriptors).
type Object struct {
	// Name labels the object in replies and output ("message", "p001").
	Name string
	R    io.ReaderAt
	Size int64
	Path string
}

// StreamOptions tunes one ScanStreams call.
type StreamOptions struct {
	// StopOnFound stops sending further objects once clamd reports one
	// infected (amavis's $first_infected_stops_scan); objects already sent are
	// still answered.
	StopOnFound bool
	// PassFD sends Path objects with zFILDES (their descriptor passed over the
	// Unix socket) instead of streaming their bytes. Unix sockets only;
	// objects with only R are streamed in any case.
	PassFD bool
}

// ScanStreams scans objs over one IDSESSION connection, pipelining them. It
// returns one Reply per object sent, in the order of objs (all of them
// unless StopOnFound stopped early). An error means the session failed: the
// replies got so far are returned with it, and the caller must not read a
// partial list as clean.
func (c *Client) ScanStreams(ctx context.Context, objs []Object, opt StreamOptions) ([]Reply, error) {
	if opt.PassFD && c.cfg.Network != "unix" {
		return nil, fmt.Errorf("clamd: %s: FILDES needs a Unix socket", c)
	}
	if len(objs) == 0 {
		return nil, nil
	}
	for attempt := 0; ; attempt++ {
		s, err := c.getSession(ctx)
		if err != nil {
			return nil, err
		}
		replies, err, retry := c.scanSession(ctx, s, objs, opt)
		if err == nil {
			c.putSession(s)
			return replies, nil
		}
		s.conn.Close()
		if retry && attempt == 0 && ctx.Err() == nil {
			// clamd had closed the pooled session (IdleTimeout, restart):
			// scanning is idempotent, try once on a fresh connection.
			continue
		}
		return replies, err
	}
}

// scanSession runs one pipelined scan on s: a writer goroutine sends the
// requests (at most MaxInFlight unanswered), this goroutine reads the
// replies, which clamd sends in any order, tagged with the request's id.
// retry reports a failure of a pooled session before clamd answered
// anything.
func (c *Client) scanSession(ctx context.Context, s *session, objs []Object, opt StreamOptions) (replies []Reply, err error, retry bool) {
	d := newDeadliner(ctx, s.conn, c.cfg.ReadTimeout)
	defer d.release()

	n := len(objs)
	base := s.nextID
	results := make([]Reply, n)
	answered := make([]bool, n)
	sizes := make([]int64, n)
	truncs := make([]bool, n)

	var stop atomic.Bool
	var started atomic.Int64 // requests the writer began to send
	inFlight := c.cfg.MaxInFlight
	if opt.PassFD {
		// A descriptor travels with the first byte of its message; if clamd
		// is still reading an earlier request it gets it with the wrong
		// command ("ancillary data sent without FILDES"). One at a time.
		inFlight = 1
	}
	sem := make(chan struct{}, inFlight)
	startedCh := make(chan struct{}, n)
	abort := make(chan struct{})
	writerDone := make(chan struct{})
	var werr error // set by the writer before writerDone closes

	go func() {
		defer close(writerDone)
		buf := make([]byte, 4+c.cfg.ChunkSize)
		for i := range objs {
			if stop.Load() {
				return
			}
			select {
			case sem <- struct{}{}:
			case <-abort:
				return
			}
			if stop.Load() {
				return
			}
			src, err := open(objs[i], opt.PassFD)
			if err != nil {
				werr = err
				return
			}
			started.Add(1)
			startedCh <- struct{}{}
			if src.fd != nil {
				err = writeFildes(d, s.conn, src.fd)
			} else {
				sizes[i], truncs[i], err = c.writeStream(d, s.conn, src, buf)
			}
			src.close()
			if err != nil {
				werr = err
				// the reader may wait for an answer to a half-sent request
				d.grace(time.Second)
				return
			}
		}
	}()

	var sizeLimit *Reply
	fail := func(e error, retryable bool) ([]Reply, error, bool) {
		writerFailed := false // the writer failed on its own, before this
		select {
		case <-writerDone:
			writerFailed = werr != nil
		default:
		}
		close(abort)
		_ = s.conn.Close()
		<-writerDone
		switch {
		case sizeLimit != nil:
			e, retryable = c.sizeLimitErr(sizeLimit), false
		case writerFailed && !errors.Is(e, ErrProtocol) && ctx.Err() == nil:
			e = wrapErr(ctx, fmt.Sprintf("send to %s", c), werr)
			retryable = retryable && isStale(werr)
		}
		return collect(results, answered, sizes, truncs), e, retryable
	}

	got := 0
loop:
	for {
		if int64(got) == started.Load() {
			select {
			case <-startedCh:
				continue
			case <-writerDone:
				if int64(got) < started.Load() {
					continue
				}
				break loop
			case <-ctx.Done():
				return fail(wrapErr(ctx, "scan", ctx.Err()), false)
			}
		}
		d.read()
		line, rerr := readReply(s.r)
		if rerr != nil {
			return fail(wrapErr(ctx, fmt.Sprintf("read reply from %s", c), rerr), s.reused && got == 0 && isStale(rerr))
		}
		id, rep, _ := ParseReply(line, true)
		idx := id - base
		if id == 0 || idx < 0 || int64(idx) >= started.Load() {
			return fail(fmt.Errorf("%w: %s: unexpected reply %q", ErrProtocol, c, line), false)
		}
		if answered[idx] {
			return fail(fmt.Errorf("%w: %s: second reply for request %d: %q", ErrProtocol, c, id, line), false)
		}
		rep.Name = objs[idx].Name
		results[idx], answered[idx] = rep, true
		got++
		<-sem
		if rep.SizeLimit() {
			// clamd closes the connection after this answer
			sizeLimit = &results[idx]
		}
		if rep.Status == Found && opt.StopOnFound {
			stop.Store(true)
		}
	}
	if werr != nil || sizeLimit != nil {
		return fail(wrapErr(ctx, fmt.Sprintf("send to %s", c), werr), s.reused && got == 0 && isStale(werr))
	}
	s.nextID = base + got
	return collect(results, answered, sizes, truncs), nil, false
}

func (c *Client) sizeLimitErr(r *Reply) error {
	return fmt.Errorf("clamd: %s: %w (clamd said %q, client stream_max_length %d)", c, ErrSizeLimit, r.Text, c.cfg.StreamMaxLength)
}

// collect returns the answered prefix of results with the writer's facts.
func collect(results []Reply, answered []bool, sizes []int64, truncs []bool) []Reply {
	var out []Reply
	for i := range results {
		if !answered[i] {
			break
		}
		r := results[i]
		r.Size, r.Truncated = sizes[i], truncs[i]
		out = append(out, r)
	}
	return out
}

var zeroChunk = []byte{0, 0, 0, 0}

// source is an object ready to send: bytes to stream, or a descriptor to
// pass.
type source struct {
	name string
	r    io.ReaderAt
	size int64
	fd   *os.File
	f    *os.File
}

func (s source) close() {
	if s.f != nil {
		s.f.Close()
	}
}

// open prepares an object: Path objects are opened now, when their turn
// comes.
func open(o Object, passFD bool) (source, error) {
	if o.R != nil {
		return source{name: o.Name, r: o.R, size: o.Size}, nil
	}
	f, err := os.Open(o.Path)
	if err != nil {
		return source{}, fmt.Errorf("open %s: %w", o.Name, err)
	}
	if passFD {
		return source{name: o.Name, fd: f, f: f}, nil
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return source{}, fmt.Errorf("stat %s: %w", o.Name, err)
	}
	return source{name: o.Name, r: f, size: st.Size(), f: f}, nil
}

// writeStream sends one zINSTREAM request: the command, length-prefixed
// chunks of at most ChunkSize bytes, and the zero-length end chunk. Objects
// longer than StreamMaxLength are cut there.
func (c *Client) writeStream(d *deadliner, conn net.Conn, src source, buf []byte) (sent int64, truncated bool, err error) {
	limit := src.size
	if limit > c.cfg.StreamMaxLength {
		limit, truncated = c.cfg.StreamMaxLength, true
	}
	d.write()
	if _, err := io.WriteString(conn, "zINSTREAM\x00"); err != nil {
		return 0, truncated, err
	}
	for sent < limit {
		want := int64(len(buf) - 4)
		if rest := limit - sent; rest < want {
			want = rest
		}
		nr, rerr := src.r.ReadAt(buf[4:4+want], sent)
		if nr > 0 {
			binary.BigEndian.PutUint32(buf[:4], uint32(nr))
			d.write()
			if _, err := conn.Write(buf[:4+nr]); err != nil {
				return sent, truncated, err
			}
			sent += int64(nr)
		}
		if rerr != nil && !(errors.Is(rerr, io.EOF) && int64(nr) == want) {
			if errors.Is(rerr, io.EOF) {
				break // shorter than announced: scan what there is
			}
			return sent, truncated, fmt.Errorf("read %s: %w", src.name, rerr)
		}
	}
	d.write()
	if _, err := conn.Write(zeroChunk); err != nil {
		return sent, truncated, err
	}
	return sent, truncated, nil
}

// writeFildes sends one zFILDES request with the file's descriptor.
func writeFildes(d *deadliner, conn net.Conn, f *os.File) error {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return errors.New("FILDES needs a Unix socket")
	}
	raw, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var rights []byte
	if err := raw.Control(func(fd uintptr) { rights = syscall.UnixRights(int(fd)) }); err != nil {
		return err
	}
	d.write()
	// The command, the extra byte clamd wants with ancillary data and the
	// descriptor in one message: sent separately, clamd may parse the
	// command before the descriptor arrives ("No file descriptor received").
	if _, _, err := uc.WriteMsgUnix([]byte("zFILDES\x00\x00"), rights, nil); err != nil {
		return err
	}
	return nil
}
