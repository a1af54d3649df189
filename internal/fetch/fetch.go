// Package fetch downloads the bytes of remote images: http(s) URLs and
// s3://bucket/key objects listed in a manifest. A URL of any other scheme
// (ftp://, file://) is a bad-url error, never a local path.
//
// Every failure comes back as an *Error with a Kind for the errors file,
// never a panic: a million-image run must not stop for one dead link. Only
// transient failures are retried (5xx, 429, connection errors, timeouts),
// with exponential backoff; a 4xx is an answer, and asking again would get
// the same one. Bodies are capped at MaxBytes while they stream, whatever
// Content-Length claims. The content type is never looked at: the decoder
// sniffs the bytes, so a PNG served as text/html, or an HTML error page
// served as image/jpeg, is judged by what it is.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Kinds of failure, as written in the errors file.
const (
	KindStatus     = "http-status"      // the server answered 4xx, or 5xx after every retry
	KindTimeout    = "fetch-timeout"    // no complete answer within Timeout, after every retry
	KindConnection = "fetch-connection" // refused, reset, DNS: after every retry
	KindTooLarge   = "too-large"        // more than MaxBytes
	KindBadURL     = "bad-url"          // not a URL this package can fetch
	KindS3Config   = "s3-config"        // no usable S3 endpoint or credentials
)

// Error is a failed fetch.
type Error struct {
	Kind     string
	URL      string
	Status   int // HTTP status, when the server answered
	Attempts int
	Err      error
}

func (e *Error) Error() string {
	msg := e.Err.Error()
	if e.Attempts > 1 {
		msg += fmt.Sprintf(" (after %d attempts)", e.Attempts)
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// ErrTooLarge is wrapped by the error for a body over MaxBytes.
var ErrTooLarge = errors.New("remote file too large")

// IsRemote reports whether a manifest entry is a URL rather than a local
// path: it starts with a scheme (RFC 3986: a letter, then letters, digits,
// "+", "-" or ".") and "://". Every scheme counts, not only the ones Fetch
// can get: read as a path, "ftp://host/a.png" would become the file
// host/a.png under a folder "ftp:", and fail as a missing file (or open one)
// instead of saying the scheme is not supported.
func IsRemote(s string) bool {
	scheme, _, ok := strings.Cut(s, "://")
	if !ok || scheme == "" {
		return false
	}
	for i, c := range scheme {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// fetched reports whether Fetch can get a URL of this scheme.
func fetched(scheme string) bool {
	switch strings.ToLower(scheme) {
	case "http", "https", "s3":
		return true
	}
	return false
}

// Config tunes a Fetcher; zero fields take the defaults in brackets.
type Config struct {
	Concurrency int           // fetches in flight at once [16]
	Timeout     time.Duration // per attempt, headers and body [60s]
	Retries     int           // extra attempts after a transient failure [3]; negative: none
	Backoff     time.Duration // wait before the first retry, doubling each time [500ms]
	MaxBytes    int64         // largest body accepted [1 GiB]

	// S3 endpoint and credentials; empty fields come from the environment
	// (see S3FromEnv).
	S3 S3Config
}

// S3Config says where s3:// objects live and how to sign for them.
type S3Config struct {
	Endpoint  string // host[:port] or a URL; http:// means no TLS
	Region    string
	AccessKey string
	SecretKey string
	Session   string
}

// S3FromEnv reads the variables the AWS tools use: AWS_ENDPOINT_URL_S3 or
// AWS_ENDPOINT_URL (default s3.amazonaws.com), AWS_REGION or
// AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN. Without keys, requests go unsigned (public buckets).
func S3FromEnv() S3Config {
	first := func(names ...string) string {
		for _, n := range names {
			if v := os.Getenv(n); v != "" {
				return v
			}
		}
		return ""
	}
	return S3Config{
		Endpoint:  first("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
		Region:    first("AWS_REGION", "AWS_DEFAULT_REGION"),
		AccessKey: first("AWS_ACCESS_KEY_ID"),
		SecretKey: first("AWS_SECRET_ACCESS_KEY"),
		Session:   first("AWS_SESSION_TOKEN"),
	}
}

// Fetcher downloads remote files; it is safe for concurrent use.
type Fetcher struct {
	cfg  Config
	http *http.Client
	sem  chan struct{}

	s3once sync.Once
	s3     *minio.Client
	s3err  error
}

// New returns a Fetcher. S3 settings missing from cfg.S3 are read from the
// environment when the first s3:// object is fetched.
func New(cfg Config) *Fetcher {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.Retries == 0 {
		cfg.Retries = 3
	} else if cfg.Retries < 0 {
		cfg.Retries = 0
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 500 * time.Millisecond
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 1 << 30
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// One connection per fetch in flight, kept for the next one: a run is
	// thousands of requests to a handful of hosts.
	tr.MaxIdleConnsPerHost = cfg.Concurrency
	tr.MaxConnsPerHost = cfg.Concurrency
	return &Fetcher{cfg: cfg, http: &http.Client{Transport: tr}, sem: make(chan struct{}, cfg.Concurrency)}
}

// Concurrency is the number of fetches the Fetcher runs at once.
func (f *Fetcher) Concurrency() int { return f.cfg.Concurrency }

// Fetch returns the bytes of a remote file. reserve is called before the
// bytes are held, with the number of bytes about to be added (the declared
// length at once, or piece by piece while a body of unknown length streams),
// so the caller can count them in a memory budget; its error stops the fetch
// and is returned as is.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string, reserve func(n int64) error) ([]byte, error) {
	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-f.sem }()

	u, err := url.Parse(rawURL)
	switch {
	case err != nil:
	case !IsRemote(rawURL):
		err = fmt.Errorf("not a URL: want http://host/path, https://host/path or s3://bucket/key")
	case strings.EqualFold(u.Scheme, "file"):
		// Not opened as the file it names: featurize records a local file
		// by its path, and the same image under two names would not match
		// its labels.
		err = fmt.Errorf("file:// URLs are not read: write the local path (%s) instead; URLs must be http://, https:// or s3://", u.Path)
	case !fetched(u.Scheme):
		err = fmt.Errorf("%s:// is not supported: URLs must be http://, https:// or s3://", strings.ToLower(u.Scheme))
	case u.Host == "":
		err = fmt.Errorf("no host: want http://host/path, https://host/path or s3://bucket/key")
	}
	if err != nil {
		return nil, &Error{Kind: KindBadURL, URL: rawURL, Err: err}
	}
	get := f.getHTTP
	if strings.EqualFold(u.Scheme, "s3") {
		if err := f.initS3(); err != nil {
			return nil, &Error{Kind: KindS3Config, URL: rawURL, Err: err}
		}
		get = f.getS3
	}
	held := &holder{reserve: reserve}
	for attempt := 1; ; attempt++ {
		data, ferr := f.attempt(ctx, u, held, get)
		if ferr == nil {
			return data, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var fe *Error
		if !errors.As(ferr, &fe) {
			return nil, ferr // the caller's reserve said no
		}
		fe.URL, fe.Attempts = rawURL, attempt
		if !fe.transient() || attempt > f.cfg.Retries {
			return nil, fe
		}
		// Full jitter: shards retrying against the same overloaded server
		// must not come back in lockstep.
		wait := f.cfg.Backoff << (attempt - 1)
		wait = wait/2 + rand.N(wait/2+1)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (e *Error) transient() bool {
	switch e.Kind {
	case KindTimeout, KindConnection:
		return true
	case KindStatus:
		return e.Status >= 500 || e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout
	}
	return false
}

// holder tracks how much of the caller's budget this fetch holds, so a
// retry reuses it instead of asking again.
type holder struct {
	reserve func(int64) error
	n       int64
}

func (h *holder) grow(total int64) error {
	if total <= h.n || h.reserve == nil {
		return nil
	}
	if err := h.reserve(total - h.n); err != nil {
		return err
	}
	h.n = total
	return nil
}

type getter func(ctx context.Context, u *url.URL) (body io.ReadCloser, size int64, err error)

func (f *Fetcher) attempt(ctx context.Context, u *url.URL, held *holder, get getter) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	body, size, err := get(ctx, u)
	if err != nil {
		return nil, classify(ctx, err)
	}
	defer body.Close()
	if size > f.cfg.MaxBytes {
		return nil, &Error{Kind: KindTooLarge, Err: fmt.Errorf("%w: %d bytes declared (limit %d)", ErrTooLarge, size, f.cfg.MaxBytes)}
	}
	const step = 256 << 10
	var data []byte
	if size >= 0 {
		if err := held.grow(size); err != nil {
			return nil, err
		}
		data = make([]byte, 0, size)
	}
	for {
		if len(data) == cap(data) {
			// Unknown or understated length: grow in steps, each counted
			// before it is allocated.
			next := int64(cap(data)) + step
			if next > f.cfg.MaxBytes+1 {
				next = f.cfg.MaxBytes + 1
			}
			if err := held.grow(next); err != nil {
				return nil, err
			}
			data = append(make([]byte, 0, next), data...)
		}
		n, err := body.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if int64(len(data)) > f.cfg.MaxBytes {
			return nil, &Error{Kind: KindTooLarge, Err: fmt.Errorf("%w: more than %d bytes", ErrTooLarge, f.cfg.MaxBytes)}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, classify(ctx, err)
		}
	}
	if size >= 0 && int64(len(data)) != size {
		// A body cut short is a connection failure, worth another try;
		// decoding it would report a truncated image that is not.
		return nil, &Error{Kind: KindConnection, Err: fmt.Errorf("body ended after %d of %d bytes", len(data), size)}
	}
	return data, nil
}

// classify turns a transport or S3 error into an *Error of the right kind.
func classify(ctx context.Context, err error) error {
	var fe *Error
	if errors.As(err, &fe) {
		return fe
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return &Error{Kind: KindTimeout, Err: fmt.Errorf("timed out: %w", err)}
	}
	if er := minio.ToErrorResponse(err); er.StatusCode != 0 {
		return &Error{Kind: KindStatus, Status: er.StatusCode, Err: fmt.Errorf("S3 %d %s: %s", er.StatusCode, er.Code, er.Message)}
	}
	return &Error{Kind: KindConnection, Err: err}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (f *Fetcher) getHTTP(ctx context.Context, u *url.URL) (io.ReadCloser, int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, &Error{Kind: KindBadURL, Err: err}
	}
	resp, err := f.http.Do(req)
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		// Drain a little so the connection can be reused.
		io.CopyN(io.Discard, resp.Body, 4<<10)
		resp.Body.Close()
		return nil, 0, &Error{Kind: KindStatus, Status: resp.StatusCode, Err: fmt.Errorf("HTTP %s", resp.Status)}
	}
	return resp.Body, resp.ContentLength, nil
}

func (f *Fetcher) initS3() error {
	f.s3once.Do(func() {
		c := f.cfg.S3
		env := S3FromEnv()
		for _, p := range []struct {
			dst *string
			src string
		}{
			{&c.Endpoint, env.Endpoint}, {&c.Region, env.Region}, {&c.AccessKey, env.AccessKey},
			{&c.SecretKey, env.SecretKey}, {&c.Session, env.Session},
		} {
			if *p.dst == "" {
				*p.dst = p.src
			}
		}
		host, secure := c.Endpoint, true
		if host == "" {
			host = "s3.amazonaws.com"
		}
		if strings.Contains(host, "://") {
			eu, err := url.Parse(host)
			if err != nil || eu.Host == "" {
				f.s3err = fmt.Errorf("S3 endpoint %q is not host[:port] or a URL", c.Endpoint)
				return
			}
			host, secure = eu.Host, eu.Scheme != "http"
		}
		var creds *credentials.Credentials
		if c.AccessKey != "" || c.SecretKey != "" {
			creds = credentials.NewStaticV4(c.AccessKey, c.SecretKey, c.Session)
		} else {
			creds = credentials.New(&credentials.Static{}) // anonymous: public buckets
		}
		tr := f.http.Transport.(*http.Transport).Clone()
		if !secure {
			tr.TLSClientConfig = nil
		}
		f.s3, f.s3err = minio.New(host, &minio.Options{Creds: creds, Secure: secure, Region: c.Region,
			Transport: tr, BucketLookup: minio.BucketLookupAuto, MaxRetries: 1})
	})
	return f.s3err
}

func (f *Fetcher) getS3(ctx context.Context, u *url.URL) (io.ReadCloser, int64, error) {
	bucket, key := u.Host, strings.TrimPrefix(u.Path, "/")
	if key == "" {
		return nil, 0, &Error{Kind: KindBadURL, Err: fmt.Errorf("s3://%s has no object key", bucket)}
	}
	obj, err := f.s3.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, 0, err
	}
	// GetObject is lazy: Stat sends the request and surfaces 404/403/5xx.
	info, err := obj.Stat()
	if err != nil {
		obj.Close()
		return nil, 0, err
	}
	return obj, info.Size, nil
}
