package harness

import (
	"fmt"
	"io"
	"net"
	"sync"
)

// TCPProxy is a byte-for-byte TCP forwarder on 127.0.0.1 for protocols other than SMTP (a database
// connection, a scanner's socket): unlike Proxy it never reads lines, so binary protocols pass intact. A
// test cuts the service off with Down (open connections are dropped and new ones refused) and brings it
// back with Up, on the same address.
type TCPProxy struct {
	Target string

	mu    sync.Mutex
	addr  string
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// NewTCPProxy listens on a free port of 127.0.0.1 and forwards every connection to target (host:port).
func NewTCPProxy(target string) (*TCPProxy, error) {
	p := &TCPProxy{Target: target, conns: map[net.Conn]struct{}{}}
	if err := p.listen("127.0.0.1:0"); err != nil {
		return nil, err
	}
	return p, nil
}

// Addr is the proxy's listening address (host:port).
func (p *TCPProxy) Addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

// Port is the proxy's listening port.
func (p *TCPProxy) Port() string {
	_, port, _ := net.SplitHostPort(p.Addr())
	return port
}

// Down closes the listener (new connections are refused) and drops every open connection.
func (p *TCPProxy) Down() {
	p.mu.Lock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
}

// Up listens again on the same address after Down.
func (p *TCPProxy) Up() error {
	p.mu.Lock()
	up, addr := p.ln != nil, p.addr
	p.mu.Unlock()
	if up {
		return nil
	}
	return p.listen(addr)
}

// Close stops the proxy and waits for its goroutines.
func (p *TCPProxy) Close() {
	p.Down()
	p.wg.Wait()
}

func (p *TCPProxy) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("tcp proxy listen %s: %w", addr, err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go p.serve(c)
		}
	}()
	return nil
}

func (p *TCPProxy) serve(client net.Conn) {
	defer p.wg.Done()
	server, err := net.Dial("tcp", p.Target)
	if err != nil {
		_ = client.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // went down meanwhile
		p.mu.Unlock()
		_ = client.Close()
		_ = server.Close()
		return
	}
	p.conns[client], p.conns[server] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		_ = dst.Close()
		_ = src.Close()
		done <- struct{}{}
	}
	go cp(server, client)
	go cp(client, server)
	<-done
	<-done
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}
