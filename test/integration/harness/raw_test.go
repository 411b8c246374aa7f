package harness

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestSetMessageID(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"replace", "Subject: x\nMessage-Id: <old@x>\nFrom: a\n\nbody Message-ID: <keep@x>\n",
			"Subject: x\r\nMessage-ID: <new@x>\r\nFrom: a\r\n\r\nbody Message-ID: <keep@x>\r\n"},
		{"folded", "Message-ID:\r\n <old@x>\r\nFrom: a\r\n\r\nb\r\n", "Message-ID: <new@x>\r\nFrom: a\r\n\r\nb\r\n"},
		{"only-in-body", "From: a\n\nMessage-ID: <body@x>\n", "Message-ID: <new@x>\r\nFrom: a\r\n\r\nMessage-ID: <body@x>\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(SetMessageID([]byte(tc.in), "<new@x>"))
			if got != tc.want {
				t.Errorf("SetMessageID(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if v := HeaderValue([]byte(got), "Message-ID"); v != "<new@x>" {
				t.Errorf("Message-ID read back %q", v)
			}
		})
	}
}

// echo serves a line echo on a free port until the test ends.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(addr, msg string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		return "", err
	}
	return bufio.NewReader(c).ReadString('\n')
}

// The byte proxy passes binary data both ways, refuses and cuts connections when down, and serves
// again on the same address when up.
func TestTCPProxy(t *testing.T) {
	px, err := NewTCPProxy(echo(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(px.Close)
	bin := "\x00\x01\xff no newline inside \r binary"
	if got, err := roundTrip(px.Addr(), bin); err != nil || got != bin+"\n" {
		t.Fatalf("through the proxy: %q %v", got, err)
	}
	// an open connection is cut by Down
	c, err := net.DialTimeout("tcp", px.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "x\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	if l, err := r.ReadString('\n'); err != nil || l != "x\n" {
		t.Fatalf("before Down: %q %v", l, err)
	}
	addr := px.Addr()
	px.Down()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadString('\n'); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Errorf("open connection not cut by Down: %v", err)
	}
	if _, err := roundTrip(addr, "y"); err == nil {
		t.Error("connection accepted while down")
	}
	if err := px.Up(); err != nil {
		t.Fatal(err)
	}
	if px.Addr() != addr {
		t.Errorf("address changed from %s to %s", addr, px.Addr())
	}
	if got, err := roundTrip(px.Addr(), "z"); err != nil || got != "z\n" {
		t.Fatalf("after Up: %q %v", got, err)
	}
}
