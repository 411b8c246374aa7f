// Package store is amavis's SQL storage (@storage_sql_dsn) on SQLite (the
// embedded default), MariaDB/MySQL and PostgreSQL: the logging tables maddr,
// msgs and msgrcpt written as amavis's save_info_preliminary and
// save_info_final write them, the SQL quarantine (table quarantine, the
// message in 16 KiB chunks), the pen pals queries and the bounce killer's
// decision and counters, and the housekeeping (retention) queries of
// amavis's README.sql-*. Schema prints amavis's DDL per dialect, including
// the lookup tables (users, policy, mailaddr, wblist) that internal/lookup
// reads, plus a few indexes amavis lacks.
//
// Existing quarantine front ends (MailZu, modoboa-amavis, iRedAdmin) read
// these tables, so the columns, types, letters and formats are amavis's;
// every deviation is documented where it is made.
//
// Several Stores (several mavisd processes or machines) may share one
// MariaDB or PostgreSQL database: maddr rows are found or inserted with
// amavis's SELECT, INSERT, SELECT sequence relying on the unique
// (partition_tag, email) constraint, so a concurrent insert is found rather
// than duplicated.
//
// Performance: statements are prepared once per connection (SQLite would
// otherwise parse every statement anew, the MySQL driver would prepare,
// execute and close it in three round trips; pgx caches by itself). SQLite
// gets one connection, so writers queue in Go instead of polling the file
// lock with busy_timeout sleeps, and a writer goroutine commits the log
// writes of concurrent messages together (group commit: one WAL append for
// the batch, each message in its own savepoint so a duplicate mail_id fails
// alone; writer.go). WAL with synchronous=NORMAL: the log is not the mail's
// safety, Postfix's queue is.
//
// Errors: every call takes a context whose deadline bounds it; a database
// that is down gives an error (the caller tempfails: nothing is lost), the
// connection is dropped, and the next call connects again, trying the DSNs
// in order (amavis's failover). database/sql with the drivers pinned in
// go.mod (go-sql-driver/mysql, pgx stdlib, modernc.org/sqlite) does the
// pooling; we wrote our own DBI-DSN parsing (amavis's DSN strings have no Go
// library), MIME header text decoding on top of mime.WordDecoder, and the
// Message-ID tokenizer (amavis's parse_message_id rules, which no library
// reproduces).
package store
