// Package webclient is a participant of the labelling site talking plain
// HTTP, as the site's forms would post: a cookie jar, the session's CSRF
// token and its queue. Load benchmarks and end-to-end tests drive a running
// `winnow serve` with it; the browser tests use a real browser instead.
package webclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// ParticipantsURL finds the participants' address in `winnow serve`'s
// start-up output.
var ParticipantsURL = regexp.MustCompile(`participants: (http://127\.0\.0\.1:\d+)/`)

// CSRFField finds a form's CSRF token in a page.
var CSRFField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// Participant is one labeller's session.
type Participant struct {
	Name, Base, CSRF string
	Round            int64
	Items            []int64 // the round's picks, in the participant's order
	Classes          []string
	HC               *http.Client
}

// Join starts a session as the About page's form does and reads its queue.
// timeout bounds each request.
func Join(ctx context.Context, base, name string, timeout time.Duration) (*Participant, error) {
	jar, _ := cookiejar.New(nil)
	p := &Participant{Name: name, Base: base, HC: &http.Client{Jar: jar, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	body, _, err := p.Do(ctx, "GET", "/", nil)
	if err != nil {
		return nil, err
	}
	m := CSRFField.FindStringSubmatch(body)
	if m == nil {
		return nil, errors.New("no CSRF field on the start page")
	}
	if _, code, err := p.Do(ctx, "POST", "/session", url.Values{"csrf": {m[1]}, "name": {name}}); err != nil || code != http.StatusSeeOther {
		return nil, fmt.Errorf("POST /session: %d %v", code, err)
	}
	return p, p.Refresh(ctx)
}

// Do sends a request (a form post when form is not nil) and returns the
// body and status.
func (p *Participant) Do(ctx context.Context, method, path string, form url.Values) (string, int, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, p.Base+path, body)
	if err != nil {
		return "", 0, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "application/json, text/html")
	resp, err := p.HC.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode, err
}

// Refresh reads the session's queue: round, CSRF token, classes and items.
func (p *Participant) Refresh(ctx context.Context) error {
	body, code, err := p.Do(ctx, "GET", "/api/queue", nil)
	if err != nil || code != http.StatusOK {
		return fmt.Errorf("GET /api/queue: %d %v", code, err)
	}
	var q struct {
		Round   int64    `json:"round"`
		CSRF    string   `json:"csrf"`
		Locked  bool     `json:"locked"`
		Classes []string `json:"classes"`
		Items   []struct {
			ID int64 `json:"id"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(body), &q); err != nil {
		return err
	}
	if q.Locked || len(q.Items) == 0 {
		return fmt.Errorf("nothing to label: locked %v, %d items", q.Locked, len(q.Items))
	}
	p.CSRF, p.Round, p.Classes, p.Items = q.CSRF, q.Round, q.Classes, nil
	for _, it := range q.Items {
		p.Items = append(p.Items, it.ID)
	}
	return nil
}

// Answer labels item as class in the current round; the status says
// whether the server acknowledged it (2xx).
func (p *Participant) Answer(ctx context.Context, item int64, class string) (int, error) {
	_, code, err := p.Do(ctx, "POST", "/label", url.Values{"csrf": {p.CSRF}, "round": {fmt.Sprint(p.Round)},
		"item": {fmt.Sprint(item)}, "class": {class}})
	return code, err
}
