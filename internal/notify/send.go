package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/mavis-filter/mavis/internal/deliver"
	"github.com/mavis-filter/mavis/internal/mail"
)

// TempError is a temporary failure to send a notification (a 4xx reply
// or a local failure such as a refused connection). As in amavis, the
// caller tempfails the whole message so that the MTA retries it.
type TempError struct {
	Kind  string
	Reply mail.Reply
}

func (e *TempError) Error() string {
	return fmt.Sprintf("temporarily unable to send %s notification: %s", e.Kind, e.Reply)
}

// SendOptions are the delivery details of Send.
type SendOptions struct {
	LogID     string       // the reported message's log id (failure texts)
	LocalName string       // EHLO name ($localhost_name); "localhost" if empty
	Log       *slog.Logger // nil = discard
}

// Sender delivers messages: a *deliver.Client.
type Sender interface {
	Send(ctx context.Context, req *deliver.Request) (*deliver.Result, error)
}

// Send delivers a notification through notify_method. A 4xx reply for any
// recipient, or a local failure, is returned as a *TempError; a 5xx reply
// is logged ("FAILED to notify ...") and not an error, as in amavis. The
// deliver.Result is returned in both cases.
func Send(ctx context.Context, c Sender, method deliver.Method, n *Notification, o SendOptions) (*deliver.Result, error) {
	if n == nil {
		return nil, nil
	}
	if len(n.Rcpts) == 0 {
		return nil, errNoRecipients
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	env := mail.Envelope{MailFrom: n.MailFrom, MailFromRaw: n.MailFrom}
	eight := !isASCII(string(n.Message))
	switch {
	case eight:
		env.Params.Body = "8BITMIME"
	case n.Kind == "dsn":
		env.Params.Body = "7BIT"
	}
	for _, a := range append([]string{n.MailFrom}, n.Rcpts...) {
		if !isASCII(a) {
			env.Params.SMTPUTF8 = true
		}
	}
	rcpts := make([]*mail.Recipient, len(n.Rcpts))
	for i, a := range n.Rcpts {
		rcpts[i] = &mail.Recipient{Addr: a, Raw: a}
	}
	res, err := c.Send(ctx, &deliver.Request{
		Method:    method,
		LogID:     o.LogID,
		Envelope:  env,
		Rcpts:     rcpts,
		Body:      bytes.NewReader(n.Message),
		LocalName: o.LocalName,
	})
	if err != nil {
		return nil, fmt.Errorf("send %s notification: %w", n.Kind, err)
	}
	var temp, perm *mail.Reply
	for i := range res.PerRcpt {
		r := &res.PerRcpt[i]
		switch r.Class() {
		case 4:
			if temp == nil {
				temp = r
			}
		case 5:
			if perm == nil {
				perm = r
			}
		}
	}
	if temp == nil && res.Err != nil {
		r := res.Data
		if r.Class() != 4 {
			r = mail.Reply{Code: 451, Enh: "4.5.0", Text: res.Err.Error()}
		}
		temp = &r
	}
	if temp != nil {
		return res, &TempError{Kind: n.Kind, Reply: *temp}
	}
	if perm != nil {
		log.Error(fmt.Sprintf("FAILED to notify %s: %s", kindName(n.Kind), perm), "id", o.LogID, "rcpts", n.Rcpts)
		return res, nil
	}
	log.Info("notification sent", "id", o.LogID, "kind", n.Kind, "from", "<"+n.MailFrom+">", "rcpts", n.Rcpts, "reply", res.Data.String())
	return res, nil
}

func kindName(k string) string {
	switch k {
	case "dsn":
		return "sender"
	case "recip":
		return "recipient"
	}
	return k
}

// IsTemp reports whether err is a temporary notification failure.
func IsTemp(err error) bool {
	var t *TempError
	return errors.As(err, &t)
}
