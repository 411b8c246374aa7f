package mail

import (
	"crypto/md5"
	"encoding/base64"
)

// MailIDFromSecret derives the public mail_id from a secret_id as amavis
// does: the first 72 bits of MD5(secret_id), base64url (amavis uses '+'→'-'
// and '/'→'_'). amavisd-release sends the secret (or the mail_id when the
// secret check is off); the server recomputes mail_id to verify it.
func MailIDFromSecret(secretID string) string {
	sum := md5.Sum([]byte(secretID))
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}
