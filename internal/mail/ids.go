package mail

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"sync/atomic"
)

// NewMailID returns a fresh amavis-style mail_id: 72 random bits
// ($mail_id_size_bits) in base64 with the URL-safe alphabet ('-' and '_'),
// 12 characters, as amavis forms it. It also returns the secret_id used to
// authorise releases; amavis derives mail_id from a hash of the secret, so a
// mail_id alone does not allow a release.
//
// Like amavis, it draws again until the mail_id starts and ends with a
// letter or digit: the quarantine subdirectory is named after the first
// character ($quarantine_subdir_levels), and ids starting with '-' would be
// taken for options on command lines (amavisd-release).
func NewMailID() (mailID, secretID string) {
	for {
		var secret [9]byte
		if _, err := rand.Read(secret[:]); err != nil {
			panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on Linux
		}
		secretID = base64.RawURLEncoding.EncodeToString(secret[:])
		mailID = MailIDFromSecret(secretID)
		if isAlnum(mailID[0]) && isAlnum(mailID[len(mailID)-1]) {
			return mailID, secretID
		}
	}
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

// LogIDs hands out amavis-style log ids: "<pid %05d>-<session %02d>" for the
// first message of a session and "-<n>" appended for the following ones
// (amavis: child pid and invocation count; mavis: process id and session).
type LogIDs struct {
	pid     int
	session atomic.Int64
}

// NewLogIDs returns a generator for this process.
func NewLogIDs() *LogIDs { return &LogIDs{pid: os.Getpid()} }

// Session starts a new session and returns its base id, e.g. "12345-03".
func (g *LogIDs) Session() string {
	n := g.session.Add(1)
	return fmt.Sprintf("%05d-%02d", g.pid, n)
}

// ForMessage returns the log id of the n-th message (1-based) of a session.
func ForMessage(sessionID string, n int) string {
	if n <= 1 {
		return sessionID
	}
	return fmt.Sprintf("%s-%d", sessionID, n)
}
