// Package harness runs mavis's end-to-end tests against a real Postfix.
//
// The Postfix instance is the dedicated test instance set up by scripts/postfix-it.sh (called by
// scripts/test-deps.sh, i.e. `make test`): config in /var/tmp/mavis-it/postfix (MAVIS_IT_DIR overrides the
// base), inbound smtpd on 127.0.0.1:20025 with content_filter=amavisfeed:[127.0.0.1]:20024, the re-injection
// smtpd on 127.0.0.1:20026, an unfiltered smtpd on 127.0.0.1:20027, and delivery of <user>@it.test into
// Maildirs under /var/tmp/mavis-it/mail/<user>/.
//
// The package gives tests:
//   - Require: skip when the environment is missing, or fail when MAVIS_REQUIRE_INTEGRATION is set;
//   - Postfix: queue listing (postqueue -j), flush, deleting own messages, the mail log, Maildir waits
//     and duplicate counts;
//   - Message and Session: a small SMTP/LMTP client that can stop anywhere in a transaction (we wrote
//     our own on net/textproto instead of net/smtp or go-smtp because tests must pause mid-DATA, bind a
//     chosen source address and see every reply text, including LMTP's per-recipient replies);
//   - Daemon: build cmd/mavisd once per test binary (with -race when the tests run with -race), start it
//     with a config text, wait for its 220 banner, stop it with SIGTERM or SIGKILL, keep its log;
//   - Proxy: a TCP proxy for SMTP that can be down, or stall a transaction just before or just after
//     the end of DATA, to put failures exactly where a test wants them.
//
// Tests in different packages may run at the same time against the one Postfix instance, so nothing here
// changes the instance's configuration or touches mail that is not the caller's: every message carries a
// unique Message-ID and tests look only for their own.
package harness
