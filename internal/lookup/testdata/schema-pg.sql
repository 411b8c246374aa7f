-- amavis lookup schema, PostgreSQL and SQLite form (README.sql-pg columns and types)
CREATE TABLE policy (
  id serial PRIMARY KEY,
  policy_name varchar(32),
  virus_lover char(1) default NULL,
  spam_lover char(1) default NULL,
  unchecked_lover char(1) default NULL,
  banned_files_lover char(1) default NULL,
  bad_header_lover char(1) default NULL,
  bypass_virus_checks char(1) default NULL,
  bypass_spam_checks char(1) default NULL,
  bypass_banned_checks char(1) default NULL,
  bypass_header_checks char(1) default NULL,
  virus_quarantine_to varchar(64) default NULL,
  spam_quarantine_to varchar(64) default NULL,
  banned_quarantine_to varchar(64) default NULL,
  unchecked_quarantine_to varchar(64) default NULL,
  bad_header_quarantine_to varchar(64) default NULL,
  clean_quarantine_to varchar(64) default NULL,
  archive_quarantine_to varchar(64) default NULL,
  spam_tag_level real default NULL,
  spam_tag2_level real default NULL,
  spam_tag3_level real default NULL,
  spam_kill_level real default NULL,
  spam_dsn_cutoff_level real default NULL,
  spam_quarantine_cutoff_level real default NULL,
  addr_extension_virus varchar(64) default NULL,
  addr_extension_spam varchar(64) default NULL,
  addr_extension_banned varchar(64) default NULL,
  addr_extension_bad_header varchar(64) default NULL,
  warnvirusrecip char(1) default NULL,
  warnbannedrecip char(1) default NULL,
  warnbadhrecip char(1) default NULL,
  newvirus_admin varchar(64) default NULL,
  virus_admin varchar(64) default NULL,
  banned_admin varchar(64) default NULL,
  bad_header_admin varchar(64) default NULL,
  spam_admin varchar(64) default NULL,
  spam_subject_tag varchar(64) default NULL,
  spam_subject_tag2 varchar(64) default NULL,
  spam_subject_tag3 varchar(64) default NULL,
  message_size_limit integer default NULL,
  banned_rulenames varchar(64) default NULL,
  disclaimer_options varchar(64) default NULL,
  forward_method varchar(64) default NULL,
  sa_userconf varchar(64) default NULL,
  sa_username varchar(64) default NULL
);
CREATE TABLE users (
  id serial PRIMARY KEY,
  priority integer NOT NULL DEFAULT 7,
  policy_id integer NOT NULL DEFAULT 1 CHECK (policy_id >= 0) REFERENCES policy(id),
  email bytea NOT NULL UNIQUE,
  fullname varchar(255) DEFAULT NULL
);
CREATE TABLE mailaddr (
  id serial PRIMARY KEY,
  priority integer NOT NULL DEFAULT 9,
  email bytea NOT NULL UNIQUE
);
CREATE TABLE wblist (
  rid integer NOT NULL CHECK (rid >= 0) REFERENCES users(id),
  sid integer NOT NULL CHECK (sid >= 0) REFERENCES mailaddr(id),
  wb varchar(10) NOT NULL,
  PRIMARY KEY (rid,sid)
);
