// Package lookup implements amavis's lookup tables, the machinery behind
// every *_maps setting (local_domains_maps, spam_lovers_maps,
// bypass_spam_checks_maps, spam_tag2_level_maps, score_sender_maps,
// banned_filename_maps, mynetworks_maps …), amavis §8.
//
// A Table answers a key (an address, an IP address, a virus name) with a
// Result; Maps tries its tables in order and the first defined result wins,
// undef meaning "don't know, ask the next table". The table kinds:
//
//   - Const: a scalar in the list, matches every key (also Opaque).
//   - Hash: {…} or read_hash files, searched with amavis's key sequence
//     for an address (Rules.HashKeys: full address, user+ext@dom, user@dom,
//     user+ext@, user@, dom, .dom, .parent…, "."), with $1..$5 in results.
//   - ACL: address access lists with '!' and ".domain" for subdomains.
//   - RE: new_RE regexp tables, Perl syntax translated to RE2 (perlre).
//   - IPACL / IPHash: @mynetworks, @inet_acl, @client_ipaddr_policy tables
//     and read_cidr files.
//   - Field over a Query: $sql_select_policy / $sql_select_white_black_list
//     against MySQL/MariaDB, PostgreSQL or SQLite (@lookup_sql_dsn, tried in
//     order), with %k expanded into bound parameters, results cached per
//     message (Cache), columns mapped onto settings (ImpliedFields).
//
// WhiteBlackList combines SQL wblist, static black/whitelists and
// @score_sender_maps as amavis does (§4.3).
//
// Lookups never turn a failure into "not found": a database that cannot be
// reached is an error (amavis tempfails the message), and every SQL query
// is bounded by the context and DBOptions.QueryTimeout.
//
// Where we wrote our own code: the key construction, hash/ACL semantics
// and read_hash/read_array/read_cidr parsers follow amavis's observable
// behaviour byte for byte (they are the compatibility contract, and no
// library implements them); the IP parser is ours because amavis accepts
// forms net/netip refuses (truncated "10/8", "a.b.c.d/m.m.m.m", leading
// zeros, "IPv6:" prefixes); the Perl regexp translator (perlre) exists
// because Go's regexp is RE2. Database access uses database/sql with
// go-sql-driver/mysql, pgx/v5/stdlib and modernc.org/sqlite.
package lookup
