// Command assess_synthetic is the evidence for winnow assess: synthetic
// annotators of known accuracy (95%, 80%, 60% and one adversary who always
// answers the next class) label Fashion-MNIST picks through the real site's
// HTTP API (winnow serve on a loopback port) for several rounds, each closed
// from the admin API; then winnow assess measures them, and the driver
// compares what it measured with what was planted, and the final model's
// test accuracy with Dawid-Skene consensus against majority vote.
//
//	go run ./bench/assess_synthetic -winnow bin/winnow -images DIR -out DIR
//
// DIR is a tools/fmnist-export folder (labels.csv with path,label,split).
// Traffic goes only to 127.0.0.1; every request has a timeout.
package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/winnowml/winnow/internal/labelstore"
	"github.com/winnowml/winnow/internal/web/webclient"
)

type annotator struct {
	name     string
	accuracy float64 // planted: probability of the true class
	adverse  bool    // answers the next class, always
	c        *http.Client
	csrf     string
	rng      *rand.Rand
}

var (
	winnow   = flag.String("winnow", "bin/winnow", "winnow binary")
	images   = flag.String("images", "", "tools/fmnist-export folder")
	out      = flag.String("out", "bench/out/assess", "work folder")
	goldPer  = flag.Int("gold", 16, "gold labels per class (split by init into practice and test)")
	batch    = flag.Int("batch", 40, "images per round")
	rounds   = flag.Int("rounds", 4, "rounds to label and close")
	coverage = flag.Float64("coverage", 0.75, "share of each round's picks each annotator answers")
	hidden   = flag.Float64("hidden", 0.1, "[label] hidden_gold")
	maxPrac  = flag.Int("practice-max-items", 0, "[practice] max_items, given to init (0: winnow's default)")
	seed     = flag.Uint64("seed", 1, "seed of the annotators and the project")
	shot     = flag.String("shot", "", "save a screenshot of the Assessment page here (needs chromium)")
	shotOnly = flag.Bool("shot-only", false, "only serve the project of an earlier run in -out and take the screenshot")
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("assess_synthetic: ")
	flag.Parse()
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	if *shotOnly {
		const token = "assess-bench-admin-token-0123456789"
		srv, base, err := serve(filepath.Join(*out, "proj"), token)
		if err != nil {
			return err
		}
		defer stop(srv)
		admin, csrf, err := adminLogin(base, token)
		if err != nil {
			return err
		}
		return screenshot(admin, base, csrf, token, *shot)
	}
	truth, order, classes, err := readTruth(filepath.Join(*images, "labels.csv"))
	if err != nil {
		return err
	}
	if err := os.RemoveAll(*out); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	// Gold: the first goldPer images of each class, in file order.
	gold := map[string]string{}
	per := map[string]int{}
	for _, p := range order {
		if per[truth[p]] < *goldPer {
			gold[p] = truth[p]
			per[truth[p]]++
		}
	}
	if err := writeCSV(filepath.Join(*out, "gold.csv"), order, gold); err != nil {
		return err
	}
	if err := writeCSV(filepath.Join(*out, "truth.csv"), order, truth); err != nil {
		return err
	}
	proj := filepath.Join(*out, "proj")
	start := time.Now()
	initArgs := []string{"init", proj, "--images", *images, "--classes", strings.Join(classes, ","), "--gold", filepath.Join(*out, "gold.csv"),
		"--batch", strconv.Itoa(*batch), "--seed", strconv.FormatUint(*seed, 10), "--title", "Fashion-MNIST, synthetic annotators", "-q"}
	if *maxPrac > 0 {
		initArgs = append(initArgs, "--practice-max-items", strconv.Itoa(*maxPrac))
	}
	if err := cmd(*winnow, initArgs...); err != nil {
		return err
	}
	log.Printf("init: %d images, %d classes, %.0f s", len(order), len(classes), time.Since(start).Seconds())
	toml := filepath.Join(proj, "winnow.toml")
	data, err := os.ReadFile(toml)
	if err != nil {
		return err
	}
	re := regexp.MustCompile(`(?m)^hidden_gold = .*$`)
	if !re.Match(data) {
		return errors.New("winnow.toml has no hidden_gold line")
	}
	if err := os.WriteFile(toml, re.ReplaceAll(data, []byte(fmt.Sprintf("hidden_gold = %g", *hidden))), 0o644); err != nil {
		return err
	}
	pathOf, err := itemPaths(filepath.Join(proj, "winnow.db"))
	if err != nil {
		return err
	}

	const token = "assess-bench-admin-token-0123456789"
	srv, base, err := serve(proj, token)
	if err != nil {
		return err
	}
	defer stop(srv)
	admin, adminCSRF, err := adminLogin(base, token)
	if err != nil {
		return err
	}
	team := []*annotator{
		{name: "ann (95%)", accuracy: 0.95}, {name: "ben (80%)", accuracy: 0.80},
		{name: "cat (60%)", accuracy: 0.60}, {name: "dan (adversary)", adverse: true},
	}
	for i, a := range team {
		a.rng = rand.New(rand.NewPCG(*seed, uint64(i)+1))
		if err := a.join(base); err != nil {
			return fmt.Errorf("%s: %w", a.name, err)
		}
		if err := a.practise(base, pathOf, truth, classes); err != nil {
			return fmt.Errorf("%s practice: %w", a.name, err)
		}
	}
	answers := 0
	for r := 1; r <= *rounds; r++ {
		for _, a := range team {
			n, err := a.label(base, pathOf, truth, classes)
			if err != nil {
				return fmt.Errorf("%s round %d: %w", a.name, r, err)
			}
			answers += n
		}
		t := time.Now()
		if err := closeRound(admin, base, adminCSRF); err != nil {
			return fmt.Errorf("closing round %d: %w", r, err)
		}
		log.Printf("round %d: %d answers so far; closed in %.1f s", r, answers, time.Since(t).Seconds())
	}
	if *shot != "" {
		if err := screenshot(admin, base, adminCSRF, token, *shot); err != nil {
			return fmt.Errorf("screenshot: %w", err)
		}
	}
	stop(srv)

	jsonOut := filepath.Join(*out, "assessment.json")
	t := time.Now()
	if err := cmd(*winnow, "assess", proj, "--json", jsonOut, "--html", filepath.Join(*out, "assessment.html"),
		"--truth", filepath.Join(*out, "truth.csv"), "--rows", filepath.Join(*out, "rows")); err != nil {
		return err
	}
	log.Printf("assess: %.1f s", time.Since(t).Seconds())
	return summarise(jsonOut, team, truth)
}

func readTruth(name string) (map[string]string, []string, []string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, nil, nil, err
	}
	truth := map[string]string{}
	var order []string
	seen := map[string]bool{}
	var classes []string
	for _, r := range recs[1:] {
		truth[r[0]] = r[1]
		order = append(order, r[0])
		if !seen[r[1]] {
			seen[r[1]] = true
			classes = append(classes, r[1])
		}
	}
	sort.Strings(classes)
	return truth, order, classes, nil
}

func writeCSV(name string, order []string, labels map[string]string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"path", "label"})
	for _, p := range order {
		if l, ok := labels[p]; ok {
			w.Write([]string{p, l})
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func cmd(name string, args ...string) error {
	c := exec.Command(name, args...)
	c.Stdout, c.Stderr = os.Stderr, os.Stderr
	return c.Run()
}

// itemPaths reads the project's item ids and paths (read only: the
// driver needs them to know each item's true class, as an annotator would
// by looking at it).
func itemPaths(db string) (map[int64]string, error) {
	st, err := labelstore.Open(db)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	items, err := st.Items(context.Background())
	if err != nil {
		return nil, err
	}
	out := map[int64]string{}
	for _, it := range items {
		out[int64(it.ID)] = it.Path
	}
	return out, nil
}

func serve(proj, token string) (*exec.Cmd, string, error) {
	c := exec.Command(*winnow, "serve", proj, "--addr", "127.0.0.1:0", "--admin-token", token)
	stdout, err := c.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	c.Stderr = os.Stderr
	if err := c.Start(); err != nil {
		return nil, "", err
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := webclient.ParticipantsURL.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case base := <-found:
		return c, base, nil
	case <-time.After(60 * time.Second):
		c.Process.Kill()
		c.Wait()
		return nil, "", errors.New("winnow serve printed no URL in 60 s")
	}
}

func stop(c *exec.Cmd) {
	if c.ProcessState != nil {
		return
	}
	c.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		c.Process.Kill()
		<-done
	}
}

func client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 120 * time.Second}
}

func getBody(c *http.Client, u string) (string, error) {
	resp, err := c.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return string(b), err
}

func post(c *http.Client, u string, form url.Values, jsonReply bool) (*http.Response, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if jsonReply {
		req.Header.Set("Accept", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func adminLogin(base, token string) (*http.Client, string, error) {
	c := client()
	body, err := getBody(c, base+"/admin?token="+url.QueryEscape(token))
	if err != nil {
		return nil, "", err
	}
	m := webclient.CSRFField.FindStringSubmatch(body)
	if m == nil {
		return nil, "", errors.New("no CSRF field on the admin page")
	}
	return c, m[1], nil
}

func (a *annotator) join(base string) error {
	a.c = client()
	body, err := getBody(a.c, base+"/")
	if err != nil {
		return err
	}
	m := webclient.CSRFField.FindStringSubmatch(body)
	if m == nil {
		return errors.New("no CSRF field on the About page")
	}
	resp, _, err := post(a.c, base+"/session", url.Values{"name": {a.name}, "csrf": {m[1]}}, false)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("POST /session: %s", resp.Status)
	}
	var q struct {
		CSRF string `json:"csrf"`
	}
	if err := getJSON(a.c, base+"/api/queue", &q); err != nil {
		return err
	}
	a.csrf = q.CSRF
	return nil
}

func getJSON(c *http.Client, u string, v any) error {
	body, err := getBody(c, u)
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(body), v)
}

// answer is the annotator's class for an image of class t.
func (a *annotator) answer(t string, classes []string) string {
	k := slices.Index(classes, t)
	if a.adverse {
		return classes[(k+1)%len(classes)]
	}
	if a.rng.Float64() < a.accuracy {
		return t
	}
	o := a.rng.IntN(len(classes) - 1)
	if o >= k {
		o++
	}
	return classes[o]
}

var practiceItem = regexp.MustCompile(`name="item-(\d+)"`)

// practise answers every practice page as the annotator would, then,
// shown what was wrong, again with the right classes (the gate asks for
// pages all correct).
func (a *annotator) practise(base string, pathOf map[int64]string, truth map[string]string, classes []string) error {
	for page := 1; ; page++ {
		body, err := getBody(a.c, base+"/practice?page="+strconv.Itoa(page))
		if err != nil {
			if page == 1 {
				return err
			}
			return nil // past the last page
		}
		ids := map[string]bool{}
		for _, m := range practiceItem.FindAllStringSubmatch(body, -1) {
			ids[m[1]] = true
		}
		if len(ids) == 0 {
			return fmt.Errorf("no practice items on page %d", page)
		}
		if err := a.practisePage(base, page, ids, pathOf, truth, classes); err != nil {
			return err
		}
	}
}

func (a *annotator) practisePage(base string, page int, ids map[string]bool, pathOf map[int64]string, truth map[string]string, classes []string) error {
	for attempt := 0; attempt < 2; attempt++ {
		form := url.Values{"page": {strconv.Itoa(page)}, "csrf": {a.csrf}}
		for id := range ids {
			n, _ := strconv.ParseInt(id, 10, 64)
			t := truth[pathOf[n]]
			if attempt == 0 {
				form.Set("item-"+id, a.answer(t, classes))
			} else {
				form.Set("item-"+id, t)
			}
		}
		resp, _, err := post(a.c, base+"/practice", form, false)
		if err != nil {
			return err
		}
		if resp.StatusCode != 200 {
			return fmt.Errorf("POST /practice: %s", resp.Status)
		}
	}
	return nil
}

// label answers a share of the round's queue (hidden gold included, as the
// annotator cannot tell it apart): 2% skipped, 1% flagged "bad example".
func (a *annotator) label(base string, pathOf map[int64]string, truth map[string]string, classes []string) (int, error) {
	var q struct {
		Round  int64 `json:"round"`
		Locked bool  `json:"locked"`
		Items  []struct {
			ID     int64  `json:"id"`
			Answer string `json:"answer"`
		} `json:"items"`
	}
	if err := getJSON(a.c, base+"/api/queue", &q); err != nil {
		return 0, err
	}
	if q.Locked {
		return 0, errors.New("labelling is locked: practice not passed")
	}
	n := 0
	for _, it := range q.Items {
		if it.Answer != "" || a.rng.Float64() >= *coverage {
			continue
		}
		form := url.Values{"round": {strconv.FormatInt(q.Round, 10)}, "item": {strconv.FormatInt(it.ID, 10)}, "csrf": {a.csrf}}
		switch u := a.rng.Float64(); {
		case u < 0.02:
			form.Set("skip", "1")
		default:
			form.Set("class", a.answer(truth[pathOf[it.ID]], classes))
			if u > 0.99 {
				form.Set("bad", "1")
			}
		}
		resp, body, err := post(a.c, base+"/label", form, true)
		if err != nil {
			return n, err
		}
		if resp.StatusCode != 200 {
			return n, fmt.Errorf("POST /label: %s %s", resp.Status, body)
		}
		n++
	}
	return n, nil
}

func closeRound(admin *http.Client, base, csrf string) error {
	resp, body, err := post(admin, base+"/admin/close", url.Values{"csrf": {csrf}}, true)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("POST /admin/close: %s %s", resp.Status, body)
	}
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		var p struct {
			Running bool   `json:"running"`
			Error   string `json:"error"`
		}
		if err := getJSON(admin, base+"/admin/progress", &p); err != nil {
			return err
		}
		if !p.Running {
			if p.Error != "" {
				return errors.New(p.Error)
			}
			return nil
		}
	}
	return errors.New("the close did not end in 10 minutes")
}

// screenshot trains the page's models, waits for them and shoots the
// Assessment page with headless Chromium.
func screenshot(admin *http.Client, base, csrf, token, file string) error {
	if resp, _, err := post(admin, base+"/admin/assess/models", url.Values{"csrf": {csrf}}, false); err != nil || resp.StatusCode != 200 {
		return fmt.Errorf("POST /admin/assess/models: %v %v", err, resp)
	}
	deadline := time.Now().Add(15 * time.Minute)
	for {
		body, err := getBody(admin, base+"/admin/assess")
		if err != nil {
			return err
		}
		if !strings.Contains(body, "Training the models") {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("models not trained in 15 minutes")
		}
		time.Sleep(2 * time.Second)
	}
	path, err := exec.LookPath("chromium")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.Headless, chromedp.WindowSize(1280, 900),
		chromedp.NoSandbox, chromedp.Flag("disable-gpu", true))
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+"/admin/assess?token="+url.QueryEscape(token))); err != nil {
		return err
	}
	time.Sleep(2 * time.Second) // images of the contested items
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	return os.WriteFile(file, png, 0o644)
}

type value = *float64

// summarise prints the evidence table: planted against measured, and the
// final model with each consensus.
func summarise(jsonFile string, team []*annotator, truth map[string]string) error {
	data, err := os.ReadFile(jsonFile)
	if err != nil {
		return err
	}
	var rep struct {
		Participants []struct {
			Name  string `json:"name"`
			N     int    `json:"n"`
			GoldN int    `json:"gold_n"`
			Gold  value  `json:"gold_accuracy"`
			Kappa value  `json:"kappa_vs_consensus"`
			First value  `json:"practice_first_accuracy"`
			Model value  `json:"model_accuracy"`
			Sec   value  `json:"median_seconds_per_answer"`
			M     *struct {
				Rank int `json:"rank"`
			} `json:"model"`
		} `json:"participants"`
		Fleiss    value `json:"fleiss_kappa"`
		Consensus struct {
			Differ int                `json:"differ_from_majority"`
			Acc    map[string]float64 `json:"labeller_accuracy"`
			Items  []struct {
				Path     string `json:"path"`
				Gold     string `json:"gold"`
				Majority string `json:"majority"`
				DS       string `json:"dawid_skene"`
			} `json:"items_posterior"`
		} `json:"consensus"`
		Models []struct {
			Name  string `json:"name"`
			Kind  string `json:"kind"`
			Rank  int    `json:"rank"`
			Rows  int    `json:"rows"`
			Acc   value  `json:"accuracy"`
			Macro value  `json:"macro_auc"`
		} `json:"models"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return err
	}
	f := func(v value, prec int) string {
		if v == nil {
			return "not defined"
		}
		return strconv.FormatFloat(*v, 'f', prec, 64)
	}
	fmt.Println("\n| participant | planted accuracy | labelled | practice, first attempt | hidden gold accuracy (n) | Dawid-Skene's estimate | kappa vs consensus | model test accuracy (rank) |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, p := range rep.Participants {
		planted := ""
		for _, a := range team {
			if a.name == p.Name {
				planted = fmt.Sprintf("%.2f", a.accuracy)
				if a.adverse {
					planted = "0 (next class)"
				}
			}
		}
		rank := 0
		if p.M != nil {
			rank = p.M.Rank
		}
		fmt.Printf("| %s | %s | %d | %s | %s (%d) | %.2f | %s | %s (%d) |\n", p.Name, planted, p.N, f(p.First, 2), f(p.Gold, 2), p.GoldN,
			rep.Consensus.Acc[p.Name], f(p.Kappa, 3), f(p.Model, 3), rank)
	}
	var n, dsRight, majRight, majTie int
	for _, it := range rep.Consensus.Items {
		if it.Gold != "" {
			continue
		}
		n++
		if it.DS == truth[it.Path] {
			dsRight++
		}
		switch {
		case it.Majority == "":
			majTie++
		case it.Majority == truth[it.Path]:
			majRight++
		}
	}
	fmt.Printf("\nFleiss' kappa %s. Non-gold items answered: %d; consensus label right: Dawid-Skene %d (%.3f), majority vote %d (%.3f, %d ties left unlabelled); they differ on %d.\n",
		f(rep.Fleiss, 3), n, dsRight, float64(dsRight)/float64(max(n, 1)), majRight, float64(majRight)/float64(max(n, 1)), majTie, rep.Consensus.Differ)
	fmt.Println("\n| model (initial training set + ...) | rows | test accuracy | macro AUC | rank |")
	fmt.Println("|---|---|---|---|---|")
	for _, m := range rep.Models {
		fmt.Printf("| %s | %d | %s | %s | %d |\n", m.Name, m.Rows, f(m.Acc, 3), f(m.Macro, 3), m.Rank)
	}
	return nil
}
