package harness

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// ProxyMode is what a Proxy does with the next transaction that reaches the end of DATA.
type ProxyMode int

const (
	// ProxyPass forwards everything.
	ProxyPass ProxyMode = iota
	// ProxyStallBeforeDot forwards the message but holds the client's final ".": the server never sees
	// the end of data and the client waits.
	ProxyStallBeforeDot
	// ProxyStallAfterDot forwards the final "." but holds the server's reply: the server has accepted
	// (or rejected) the message and the client never learns it.
	ProxyStallAfterDot
)

func (m ProxyMode) String() string {
	switch m {
	case ProxyPass:
		return "pass"
	case ProxyStallBeforeDot:
		return "stall-before-dot"
	case ProxyStallAfterDot:
		return "stall-after-dot"
	}
	return fmt.Sprintf("ProxyMode(%d)", int(m))
}

// StallEvent reports that a Proxy stalled a transaction. Reply is the held server reply
// (ProxyStallAfterDot only).
type StallEvent struct {
	Mode  ProxyMode
	Reply string
}

// Proxy is a TCP proxy on 127.0.0.1 in front of an SMTP/LMTP server. It removes CHUNKING from the
// server's EHLO/LHLO answer so that clients end DATA with a dot the proxy can see, and it can stall one
// transaction (SetMode) until it is dropped (DropAll) or let go (Release), or refuse connections (Down).
// It never changes the message.
type Proxy struct {
	Target string

	mu      sync.Mutex
	addr    string
	ln      net.Listener
	conns   map[net.Conn]struct{}
	mode    ProxyMode
	stalled chan StallEvent
	release chan struct{} // closed by Release; replaced by SetMode
	wg      sync.WaitGroup
}

// NewProxy listens on a free port of 127.0.0.1 and forwards to target (host:port).
func NewProxy(target string) (*Proxy, error) { return NewProxyOn("127.0.0.1:0", target) }

// NewProxyOn listens on listen (e.g. FilterAddr, to sit between Postfix and mavisd) and forwards to target.
func NewProxyOn(listen, target string) (*Proxy, error) {
	p := &Proxy{Target: target, conns: map[net.Conn]struct{}{}, stalled: make(chan StallEvent, 16),
		release: make(chan struct{})}
	if err := p.listen(listen); err != nil {
		return nil, err
	}
	return p, nil
}

// Addr is the proxy's listening address.
func (p *Proxy) Addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

// Method is the proxy as an amavis-style method, e.g. smtp:[127.0.0.1]:34567.
func (p *Proxy) Method(proto string) string {
	h, port, _ := net.SplitHostPort(p.Addr())
	return fmt.Sprintf("%s:[%s]:%s", proto, h, port)
}

// SetMode sets what happens to the next transaction that reaches the end of DATA; a stall mode is used
// once, after which the proxy passes again.
func (p *Proxy) SetMode(m ProxyMode) {
	p.mu.Lock()
	p.mode = m
	p.release = make(chan struct{})
	p.mu.Unlock()
}

// Release lets the stalled transactions go on: the held dot or reply is passed on as if it had only been
// slow.
func (p *Proxy) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.release:
	default:
		close(p.release)
	}
}

// Stalled delivers an event each time a transaction is stalled.
func (p *Proxy) Stalled() <-chan StallEvent { return p.stalled }

// Down closes the listener (new connections are refused) and drops every open connection.
func (p *Proxy) Down() {
	p.mu.Lock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	p.mu.Unlock()
	p.DropAll()
}

// Up listens again on the same address after Down.
func (p *Proxy) Up() error {
	p.mu.Lock()
	up, addr := p.ln != nil, p.addr
	p.mu.Unlock()
	if up {
		return nil
	}
	return p.listen(addr)
}

// DropAll closes every open connection (this also ends a stall).
func (p *Proxy) DropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
}

// Close stops the proxy and waits for its goroutines.
func (p *Proxy) Close() {
	p.Down()
	p.wg.Wait()
}

func (p *Proxy) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("proxy listen %s: %w", addr, err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	p.wg.Add(1)
	go p.accept(ln)
	return nil
}

func (p *Proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// track registers conns so that DropAll can close them; it fails when the proxy went down meanwhile.
func (p *Proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
		_ = c.Close()
	}
}

// takeMode returns the current mode and its release channel, and resets a stall mode to pass (one
// stall per SetMode).
func (p *Proxy) takeMode() (ProxyMode, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.mode
	p.mode = ProxyPass
	return m, p.release
}

func (p *Proxy) event(e StallEvent) {
	select {
	case p.stalled <- e:
	default:
	}
}

// pconn is one proxied connection.
type pconn struct {
	p         *Proxy
	client    net.Conn
	server    net.Conn
	closed    chan struct{}
	once      sync.Once
	holdMu    sync.Mutex
	holdReply <-chan struct{} // non-nil: hold the next reply until this is closed
}

func (c *pconn) close() {
	c.once.Do(func() {
		close(c.closed)
		c.p.untrack(c.client, c.server)
	})
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	server, err := net.Dial("tcp", p.Target)
	if err != nil {
		_ = client.Close()
		return
	}
	if !p.track(client, server) {
		_ = client.Close()
		_ = server.Close()
		return
	}
	c := &pconn{p: p, client: client, server: server, closed: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); defer c.close(); _ = c.clientToServer() }()
	go func() { defer wg.Done(); defer c.close(); _ = c.serverToClient() }()
	wg.Wait()
}

var errStalled = errors.New("stalled")

// clientToServer copies the client's lines, watching for DATA and its final dot.
func (c *pconn) clientToServer() error {
	r := bufio.NewReaderSize(c.client, 64*1024)
	inData := false
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// a very long line: pass it through in pieces
			if _, werr := c.server.Write(line); werr != nil {
				return werr
			}
			continue
		}
		if err != nil {
			if len(line) > 0 {
				_, _ = c.server.Write(line)
			}
			return err
		}
		switch {
		case !inData && isCommand(line, "DATA"):
			inData = true
		case inData && bytes.Equal(line, []byte(".\r\n")):
			inData = false
			switch mode, release := c.p.takeMode(); mode {
			case ProxyStallBeforeDot:
				c.p.event(StallEvent{Mode: ProxyStallBeforeDot})
				select {
				case <-c.closed:
					return errStalled
				case <-release:
				}
			case ProxyStallAfterDot:
				c.holdMu.Lock()
				c.holdReply = release
				c.holdMu.Unlock()
			}
		}
		if _, err := c.server.Write(line); err != nil {
			return err
		}
	}
}

func isCommand(line []byte, verb string) bool {
	return len(bytes.TrimSpace(line)) == len(verb) && bytes.EqualFold(bytes.TrimSpace(line), []byte(verb))
}

// serverToClient copies the server's replies, hiding CHUNKING and holding a reply when asked to.
func (c *pconn) serverToClient() error {
	r := bufio.NewReader(c.server)
	var reply []byte
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			if len(line) > 0 {
				_, _ = c.client.Write(line)
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if len(line) >= 12 && bytes.EqualFold(bytes.TrimSpace(line[4:]), []byte("CHUNKING")) {
			line = append(line[:4:4], "X-NO-CHUNKING\r\n"...)
		}
		reply = append(reply, line...)
		if len(line) > 3 && line[3] == '-' {
			continue // more lines of this reply
		}
		c.holdMu.Lock()
		release := c.holdReply
		c.holdReply = nil
		c.holdMu.Unlock()
		if release != nil {
			c.p.event(StallEvent{Mode: ProxyStallAfterDot, Reply: string(bytes.TrimSpace(reply))})
			select {
			case <-c.closed:
				return errStalled
			case <-release:
			}
		}
		if _, err := c.client.Write(reply); err != nil {
			return err
		}
		reply = reply[:0]
	}
}
