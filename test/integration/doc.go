// Package integration holds mavis's end-to-end tests: real Postfix (the test instance of
// scripts/postfix-it.sh) → mavisd on 127.0.0.1:20024 → Postfix re-injection on 127.0.0.1:20026 →
// Maildir. The tests build cmd/mavisd, start and kill it, and put failures exactly where they want them
// with harness.Proxy; see test/integration/harness. They run with `make test` (as root) and skip
// without the environment unless MAVIS_REQUIRE_INTEGRATION is set.
package integration
