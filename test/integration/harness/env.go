package harness

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Ports of the Postfix test instance (scripts/postfix-it.sh) and of mavisd in tests.
const (
	InboundAddr  = "127.0.0.1:20025" // Postfix smtpd, content_filter=amavisfeed:[127.0.0.1]:20024
	FilterAddr   = "127.0.0.1:20024" // where mavisd listens in tests (Postfix's amavisfeed next hop)
	ReinjectAddr = "127.0.0.1:20026" // Postfix re-injection smtpd (content_filter=, XFORWARD allowed)
	DirectAddr   = "127.0.0.1:20027" // Postfix smtpd without content_filter
	Domain       = "it.test"         // the instance's virtual mailbox domain

	// ForwardMethod is mavisd's forward_method in tests.
	ForwardMethod = "smtp:[127.0.0.1]:20026"
)

// EnvRequire is the environment variable that turns missing integration services into failures.
const EnvRequire = "MAVIS_REQUIRE_INTEGRATION"

// Required reports whether integration tests must run (MAVIS_REQUIRE_INTEGRATION is set and not empty).
func Required() bool { return os.Getenv(EnvRequire) != "" }

// Require stops the test when err (from an availability check) is non-nil: t.Skip when
// MAVIS_REQUIRE_INTEGRATION is unset, t.Fatal when it is set.
func Require(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if Required() {
		t.Fatalf("integration environment unavailable (%s is set): %v", EnvRequire, err)
	}
	t.Skipf("integration environment unavailable (set %s=1 to fail instead): %v", EnvRequire, err)
}

// RequirePostfix returns the Postfix test instance after checking it is usable (see Require).
func RequirePostfix(t testing.TB) *Postfix {
	t.Helper()
	p := Instance()
	Require(t, p.Available())
	return p
}

// Instance describes the Postfix test instance; MAVIS_IT_DIR overrides its base directory.
func Instance() *Postfix {
	base := os.Getenv("MAVIS_IT_DIR")
	if base == "" {
		base = "/var/tmp/mavis-it"
	}
	return &Postfix{
		Base:      base,
		ConfigDir: filepath.Join(base, "postfix"),
		MailDir:   filepath.Join(base, "mail"),
		LogFile:   filepath.Join(base, "postfix.log"),
	}
}

// Available checks that the instance is set up and listening and that this process can use it.
func (p *Postfix) Available() error {
	var errs []error
	if os.Geteuid() != 0 {
		errs = append(errs, errors.New("not root: the Maildirs (owned by nobody, 0600) and postqueue -c need root; run `sudo make test`"))
	}
	if _, err := os.Stat(filepath.Join(p.ConfigDir, "main.cf")); err != nil {
		errs = append(errs, fmt.Errorf("no test instance config (run scripts/test-deps.sh): %w", err))
	}
	for _, a := range []string{InboundAddr, ReinjectAddr, DirectAddr} {
		c, err := net.DialTimeout("tcp", a, 2*time.Second)
		if err != nil {
			errs = append(errs, fmt.Errorf("postfix test instance not listening (run scripts/test-deps.sh): %w", err))
			continue
		}
		_ = c.Close()
	}
	return errors.Join(errs...)
}

// FreeAddr returns a currently unused 127.0.0.1:port.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
