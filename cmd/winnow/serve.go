package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/winnowml/winnow/internal/project"
	"github.com/winnowml/winnow/internal/web"
)

func newServeCmd(g *globals) *cobra.Command {
	var addr, token, apiToken string
	cmd := &cobra.Command{
		Use:   "serve DIR",
		Short: "Run the labelling website of a project",
		Long: `serve runs the project's labelling website: participants learn the classes,
practise on gold items and label the current round's picks; the admin page
closes a round (consensus, retrain, evaluate, pick the next batch) and exports
the answers, the consensus labels and the model.

The admin URL carries a token: --admin-token, else $WINNOW_ADMIN_TOKEN, else a
random one made at start. Ctrl-C stops the server after the requests in flight.

With --api-token (or $WINNOW_API_TOKEN) the prediction API is on, for programs
sending "Authorization: Bearer TOKEN": POST /api/v1/classify (one image as the
multipart field "image") answers with the latest model's prediction as JSON,
GET /api/v1/model describes that model. A new model is used as soon as a round
closes.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if token == "" {
				token = os.Getenv("WINNOW_ADMIN_TOKEN")
			}
			if token == "" {
				var b [18]byte
				if _, err := rand.Read(b[:]); err != nil {
					return err
				}
				token = fmt.Sprintf("%x", b)
			}
			if apiToken == "" {
				apiToken = os.Getenv("WINNOW_API_TOKEN")
			}
			p, err := project.Open(args[0])
			if err != nil {
				return err
			}
			defer p.Close()
			srv, err := web.New(p, web.Options{AdminToken: token, APIToken: apiToken, ORTLib: g.ortLib})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			hs := srv.HTTPServer(addr)
			fresh := &newConns{conns: map[net.Conn]struct{}{}}
			hs.ConnState = fresh.hook(hs.ConnState)
			base := "http://" + ln.Addr().String()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "participants: %s/\n", base)
			fmt.Fprintf(out, "admin:        %s/admin?token=%s\n", base, token)
			if apiToken != "" {
				fmt.Fprintf(out, "api:          %s/api/v1/classify (Authorization: Bearer $WINNOW_API_TOKEN)\n", base)
			}
			errc := make(chan error, 1)
			go func() { errc <- hs.Serve(ln) }()
			select {
			case err := <-errc:
				return err
			case <-cmd.Context().Done():
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "winnow serve: stopping")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			fresh.closeAll()
			err = hs.Shutdown(ctx)
			// A round being closed is cancelled; the project reopens it.
			if serr := srv.Shutdown(ctx); err == nil {
				err = serr
			}
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			return err
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	cmd.Flags().StringVar(&token, "admin-token", "", "admin token (default: $WINNOW_ADMIN_TOKEN, else random)")
	cmd.Flags().StringVar(&apiToken, "api-token", "", "turn on the prediction API with this bearer token (default: $WINNOW_API_TOKEN; off without one)")
	return cmd
}

// newConns holds the connections that have not sent a byte of a request.
// http.Server.Shutdown closes idle keep-alive connections at once, but it
// takes such a connection for a request about to arrive and waits up to
// 5 s for it: a browser opens one ahead of need (a preconnect, a second
// socket), so Ctrl-C in front of an open page took 5 s. None of them
// carries a request, so the shutdown closes them first.
type newConns struct {
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closing bool
}

func (n *newConns) hook(next func(net.Conn, http.ConnState)) func(net.Conn, http.ConnState) {
	return func(c net.Conn, st http.ConnState) {
		n.mu.Lock()
		switch {
		case st == http.StateNew && n.closing:
			// Accepted while the listener was being closed.
			c.Close()
		case st == http.StateNew:
			n.conns[c] = struct{}{}
		default:
			delete(n.conns, c)
		}
		n.mu.Unlock()
		if next != nil {
			next(c, st)
		}
	}
}

// closeAll closes the connections that are still new, and any accepted
// from now on.
func (n *newConns) closeAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closing = true
	for c := range n.conns {
		c.Close()
	}
	clear(n.conns)
}
