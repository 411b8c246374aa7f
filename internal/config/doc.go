// Package config holds mavis's settings: one immutable snapshot per loaded
// configuration, with amavis's variable names, types and defaults (Debian's
// values where Debian's conf.d differs from upstream amavis).
//
// The file is TOML. Its keys are amavis's variable names without the sigil
// ($max_servers → max_servers, @inet_acl → inet_acl, %interface_policy →
// interface_policy, $MYHOME → MYHOME), so an amavis configuration
// translates key by key; `[policy_bank.NAME]` tables are amavis's
// $policy_bank{NAME}; the few settings amavis lacks live in `[mavis]`.
// TOML has no null, so the bare string "undef" stands for Perl's undef
// for every setting, and scalar settings are Opt values that tell undef
// from zero. *_maps settings are lists of lookup tables (LookupSpec) that
// this package validates and internal/lookup interprets. See
// docs/configuration.md for every key.
//
// Load/Parse return every problem at once (Errors), each naming the file,
// line and key. The result is a *Config; (*Config).Settings(banks...)
// returns the effective snapshot with policy banks merged in, as amavis's
// load_policy_bank does, and with the default maps' references to legacy
// variables (\$sa_kill_level_deflt, \@local_domains_acl) resolved.
//
// Own code instead of a library: go-toml/v2 decodes the TOML (and reports
// syntax errors with their position), but it gives no line numbers for
// values that decode fine and stops at the first type error, so this
// package walks the document once more with go-toml's own parser
// (unstable.Parser) to note each key's line and validates against its own
// schema, collecting all errors. The schema is the Settings struct itself
// (struct tags), read once by reflection. amavis's semantics (undef,
// policy bank merging, lookup table shapes, IP ACL syntax) have no library.
package config
