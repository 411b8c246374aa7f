package mail

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// DefaultSpoolThreshold is how much of a message is kept in memory before it
// is spilled to a file (amavis keeps messages below 100 KiB in memory too).
const DefaultSpoolThreshold = 256 << 10

// Spool stores a message body written once and read many times. Up to the
// threshold it lives in memory; beyond that it is moved to a private 0600
// file under the spool directory (amavis's TEMPBASE). Close removes the file;
// it is safe to call more than once.
//
// Readers obtained from Reader are independent and may be used concurrently
// (for instance by a virus and a spam scanner at the same time) once writing
// has finished.
type Spool struct {
	dir       string
	threshold int

	mu     sync.Mutex
	mem    bytes.Buffer
	f      *os.File
	n      int64
	closed bool
	eight  bool // an octet >= 0x80 was written
}

// NewSpool returns an empty spool that spills to a file in dir (created if
// missing, mode 0700) once more than threshold bytes were written.
// threshold <= 0 selects DefaultSpoolThreshold.
func NewSpool(dir string, threshold int) *Spool {
	if threshold <= 0 {
		threshold = DefaultSpoolThreshold
	}
	return &Spool{dir: dir, threshold: threshold}
}

// NewSpoolFromBytes returns a finished in-memory spool holding b.
func NewSpoolFromBytes(b []byte) *Spool {
	s := &Spool{threshold: len(b) + 1, eight: hasHighBit(b)}
	s.mem.Write(b)
	s.n = int64(len(b))
	return s
}

// Write appends p to the spool.
func (s *Spool) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, errors.New("spool: write after close")
	}
	if s.f == nil && s.mem.Len()+len(p) > s.threshold && s.dir != "" {
		if err := s.spill(); err != nil {
			return 0, err
		}
	}
	var n int
	var err error
	if s.f != nil {
		n, err = s.f.Write(p)
		if err != nil {
			err = fmt.Errorf("spool: write %s: %w", s.f.Name(), err)
		}
	} else {
		n, err = s.mem.Write(p)
	}
	s.n += int64(n)
	if !s.eight {
		s.eight = hasHighBit(p[:n])
	}
	return n, err
}

// HasEightBit reports whether an octet with the high bit set was written
// (the message needs BODY=8BITMIME), noted while writing so that nobody
// has to read the message again for it.
func (s *Spool) HasEightBit() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.eight
}

// hasHighBit reports whether p has an octet >= 0x80, eight at a time.
func hasHighBit(p []byte) bool {
	for len(p) >= 32 {
		w := binary.LittleEndian.Uint64(p) | binary.LittleEndian.Uint64(p[8:]) |
			binary.LittleEndian.Uint64(p[16:]) | binary.LittleEndian.Uint64(p[24:])
		if w&0x8080808080808080 != 0 {
			return true
		}
		p = p[32:]
	}
	for len(p) >= 8 {
		if binary.LittleEndian.Uint64(p)&0x8080808080808080 != 0 {
			return true
		}
		p = p[8:]
	}
	for _, c := range p {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

func (s *Spool) spill() error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("spool: create TEMPBASE %s: %w", s.dir, err)
	}
	f, err := os.CreateTemp(s.dir, "mavis-spool-*.eml")
	if err != nil {
		return fmt.Errorf("spool: create file in %s: %w", s.dir, err)
	}
	// CreateTemp already uses 0600; be explicit in case of an odd umask.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("spool: chmod %s: %w", f.Name(), err)
	}
	if _, err := f.Write(s.mem.Bytes()); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("spool: write %s: %w", f.Name(), err)
	}
	s.mem = bytes.Buffer{}
	s.f = f
	return nil
}

// Size is the number of bytes written.
func (s *Spool) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// Path is the spool file's name, or "" while the content is in memory.
func (s *Spool) Path() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return ""
	}
	return s.f.Name()
}

// InMemory reports whether the whole content is held in memory.
func (s *Spool) InMemory() bool { return s.Path() == "" }

// Reader returns a new independent reader over everything written so far.
func (s *Spool) Reader() *io.SectionReader {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		return io.NewSectionReader(s.f, 0, s.n)
	}
	return io.NewSectionReader(bytes.NewReader(s.mem.Bytes()), 0, int64(s.mem.Len()))
}

// Bytes returns the whole content. For a file spool it reads the file, so use
// it only where the size is known to be small.
func (s *Spool) Bytes() ([]byte, error) {
	r := s.Reader()
	b := make([]byte, r.Size())
	_, err := io.ReadFull(r, b)
	return b, err
}

// Close removes the spool file, if any, and drops the memory.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.mem = bytes.Buffer{}
	if s.f == nil {
		return nil
	}
	name := s.f.Name()
	err := s.f.Close()
	if rerr := os.Remove(name); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("spool: remove %s: %w", name, err)
	}
	return nil
}
