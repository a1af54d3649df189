package e2e

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// slurmCluster is a single-node Slurm cluster of the test's own: munged,
// slurmctld and slurmd run as children of the test on a key, socket,
// config, state and ports in one temp folder, so the system's /etc/munge,
// /etc/slurm and any daemon already running are never used or disturbed,
// and two runs at once do not meet.
type slurmCluster struct {
	t     *testing.T
	dir   string
	env   []string // for every daemon and client: SLURM_CONF and the marker
	procs []*daemonProc
	once  sync.Once // stop runs once: at Cleanup, or before go test's -timeout
}

type daemonProc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited
}

var slurmBins = []string{"/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd",
	"/usr/bin/sbatch", "/usr/bin/squeue", "/usr/bin/scancel", "/usr/bin/scontrol", "/usr/bin/sinfo"}

// slurmSkipReason says why this machine cannot run the cluster, or "".
// make deps leaves its own reason in .deps/slurm.unavailable when it could
// not install the packages.
func slurmSkipReason() string {
	for _, b := range slurmBins {
		if _, err := os.Stat(b); err != nil {
			why := "Slurm or MUNGE is not installed (" + b + " missing; make deps installs slurmctld slurmd slurm-client munge when run as root on Debian)"
			if note, err := os.ReadFile(repo(".deps/slurm.unavailable")); err == nil {
				why += "; make deps said: " + strings.TrimSpace(string(note))
			}
			return why
		}
	}
	if os.Geteuid() != 0 {
		return "slurmd starts each job as the user who submitted it, which needs root; this test runs as uid " + strconv.Itoa(os.Geteuid())
	}
	return ""
}

// startSlurm starts the cluster and registers its teardown, which runs
// even when the test fails or stops at a Fatal.
func startSlurm(t *testing.T) *slurmCluster {
	t.Helper()
	// munged refuses a socket in a folder that not everyone can enter, and
	// t.TempDir's folders are 0700.
	dir, err := os.MkdirTemp("", "winnow-slurm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) }) // runs last: after the daemons are gone
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"state", "spool"} {
		os.Mkdir(filepath.Join(dir, d), 0o755)
	}
	key := make([]byte, 1024)
	rand.Read(key)
	if err := os.WriteFile(filepath.Join(dir, "munge.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	mem := 4096 // MB; SlurmdParameters=config_overrides keeps a smaller machine from draining the node
	ports := freePorts(t, 2)
	conf := filepath.Join(dir, "slurm.conf")
	if err := os.WriteFile(conf, []byte(slurmConf(dir, ports[0], ports[1], mem)), 0o644); err != nil {
		t.Fatal(err)
	}

	c := &slurmCluster{t: t, dir: dir}
	for _, kv := range os.Environ() {
		// An outer Slurm job's variables would redirect our clients.
		if !strings.HasPrefix(kv, "SLURM_") {
			c.env = append(c.env, kv)
		}
	}
	c.env = append(c.env, "SLURM_CONF="+conf, slurmMarker+"="+dir)
	t.Cleanup(func() { c.once.Do(c.stop) })
	// A test stopped by go test's -timeout runs no Cleanup and its panic
	// would leave slurmstepd running (it outlives slurmd and ignores
	// SIGTERM): the teardown then runs first, shortly before the deadline.
	if dl, ok := t.Deadline(); ok {
		timer := time.AfterFunc(time.Until(dl)-10*time.Second, func() {
			t.Errorf("Slurm: stopping the cluster 10 s before go test's -timeout")
			c.once.Do(c.stop)
			os.RemoveAll(dir)
		})
		t.Cleanup(func() { timer.Stop() })
	}

	sock := filepath.Join(dir, "munge.socket")
	c.daemon("munged", "/usr/sbin/munged", "--foreground", "--socket="+sock, "--key-file="+filepath.Join(dir, "munge.key"),
		"--pid-file="+filepath.Join(dir, "munged.pid"), "--log-file="+filepath.Join(dir, "munged.log"),
		"--seed-file="+filepath.Join(dir, "munged.seed"))
	c.waitFor("munged's socket", func() bool { _, err := os.Stat(sock); return err == nil })
	c.daemon("slurmctld", "/usr/sbin/slurmctld", "-D", "-f", conf)
	c.waitFor("slurmctld to answer", func() bool {
		out, err := c.client("scontrol", "ping")
		return err == nil && strings.Contains(out, "UP")
	})
	c.daemon("slurmd", "/usr/sbin/slurmd", "-D", "-N", "localhost", "-f", conf)
	c.waitFor("the node to be idle", func() bool {
		out, _ := c.client("sinfo", "-h", "-n", "localhost", "-o", "%T")
		return strings.TrimSpace(out) == "idle"
	})
	return c
}

// slurmMarker is set in the environment of the daemons, and so of
// slurmstepd and every job they start, to find those processes at teardown:
// slurmstepd is not in slurmd's process group.
const slurmMarker = "WINNOW_SLURM_TEST"

// slurmConf is the smallest configuration of one node with 2 CPUs that runs
// batch arrays as root: no cgroups (proctrack/linuxproc, task/none), no
// accounting database, the auth plugin pointed at the test's munged.
// batch_sched_delay=0 starts the next task as soon as one ends instead of
// at the next pass of a batching delay (~1 s a task saved); KillWait=5
// gets a cancelled task's SIGKILL, if it needs one, within the test's time.
func slurmConf(dir string, ctldPort, slurmdPort, memMB int) string {
	p := func(name string) string { return filepath.Join(dir, name) }
	return fmt.Sprintf(`ClusterName=winnowtest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
SlurmctldPort=%d
SlurmdPort=%d
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=%s
StateSaveLocation=%s
SlurmdSpoolDir=%s
SlurmctldPidFile=%s
SlurmdPidFile=%s
SlurmctldLogFile=%s
SlurmdLogFile=%s
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
SchedulerType=sched/builtin
SchedulerParameters=batch_sched_delay=0
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
KillWait=5
MinJobAge=3600
NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 RealMemory=%d State=UNKNOWN
PartitionName=winnow Nodes=localhost Default=YES MaxTime=INFINITE State=UP
`, ctldPort, slurmdPort, p("munge.socket"), p("state"), p("spool"), p("slurmctld.pid"), p("slurmd.pid"),
		p("slurmctld.log"), p("slurmd.log"), memMB)
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// daemon starts one daemon in the foreground in its own process group,
// its output in dir/NAME.out.
func (c *slurmCluster) daemon(name string, argv ...string) {
	c.t.Helper()
	out, err := os.Create(filepath.Join(c.dir, name+".out"))
	if err != nil {
		c.t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr, cmd.Env = out, out, c.env
	// Pdeathsig: if the test binary dies anyway, the daemons die with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("starting %s: %v", name, err)
	}
	d := &daemonProc{name, cmd, make(chan struct{})}
	go func() { cmd.Wait(); close(d.done) }()
	c.procs = append(c.procs, d)
}

func (c *slurmCluster) waitFor(what string, ok func() bool) {
	c.t.Helper()
	for end := time.Now().Add(30 * time.Second); !ok(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(end) {
			c.t.Fatalf("Slurm: no %s after 30 s\n%s", what, c.logs())
		}
		for _, d := range c.procs {
			select {
			case <-d.done:
				c.t.Fatalf("Slurm: %s exited (%v) while waiting for %s\n%s", d.name, d.cmd.ProcessState, what, c.logs())
			default:
			}
		}
	}
}

// client runs a Slurm command on this cluster; it returns stdout, and the
// error with stderr.
func (c *slurmCluster) client(name string, args ...string) (string, error) {
	cmd := exec.Command("/usr/bin/"+name, args...) // as slurmSkipReason checked
	cmd.Env = c.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// sbatch submits and returns the job ID.
func (c *slurmCluster) sbatch(args ...string) string {
	c.t.Helper()
	out, err := c.client("sbatch", append([]string{"--parsable"}, args...)...)
	if err != nil {
		c.t.Fatalf("%v\n%s", err, c.logs())
	}
	id, _, _ := strings.Cut(strings.TrimSpace(out), ";")
	return id
}

// waitJob waits until no task of the job is pending or running.
func (c *slurmCluster) waitJob(id string, limit time.Duration) {
	c.t.Helper()
	end := time.Now().Add(limit)
	for {
		out, err := c.client("squeue", "-h", "-j", id, "-o", "%i %T")
		if err == nil && strings.TrimSpace(out) == "" {
			return
		}
		if time.Now().After(end) {
			c.t.Fatalf("job %s not done after %v: %s %v\n%s", id, limit, out, err, c.logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// tasks returns each array task's state and the job record's fields, from
// scontrol: without slurmdbd there is no sacct, and MinJobAge keeps ended
// jobs in slurmctld's memory for the test.
func (c *slurmCluster) tasks(id string) map[int]map[string]string {
	c.t.Helper()
	out, err := c.client("scontrol", "-o", "show", "job", id)
	if err != nil {
		c.t.Fatal(err)
	}
	field := regexp.MustCompile(`(\S+?)=(\S*)`)
	got := map[int]map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		rec := map[string]string{}
		for _, m := range field.FindAllStringSubmatch(line, -1) {
			rec[m[1]] = m[2]
		}
		if i, err := strconv.Atoi(rec["ArrayTaskId"]); err == nil {
			got[i] = rec
		}
	}
	return got
}

// logs is the daemons' output, for a failure message.
func (c *slurmCluster) logs() string {
	var b strings.Builder
	for _, name := range []string{"munged.out", "slurmctld.log", "slurmd.log"} {
		data, _ := os.ReadFile(filepath.Join(c.dir, name))
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		fmt.Fprintf(&b, "--- %s (last lines)\n%s\n", name, strings.Join(lines[max(0, len(lines)-15):], "\n"))
	}
	return b.String()
}

// stop cancels what is left of the jobs, stops the daemons in the reverse
// order of their start (TERM, then KILL after 10 s) and kills any process
// still carrying the marker: slurmstepd and the jobs' own processes.
func (c *slurmCluster) stop() {
	if u, err := user.Current(); err == nil {
		c.client("scancel", "--user="+u.Username)
	}
	for i := len(c.procs) - 1; i >= 0; i-- {
		d := c.procs[i]
		syscall.Kill(-d.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
			<-d.done
		}
	}
	for _, pid := range markedProcesses(slurmMarker + "=" + c.dir) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		left := c.running()
		if len(left) == 0 {
			return
		}
		if time.Now().After(end) {
			c.t.Errorf("Slurm: still running after teardown: %v", left)
			return
		}
	}
}

// running counts the live processes carrying the cluster's marker, by
// command name: the daemons, slurmstepd and the jobs' processes.
func (c *slurmCluster) running() map[string]int {
	names := map[string]int{}
	for _, pid := range markedProcesses(slurmMarker + "=" + c.dir) {
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err == nil {
			names[strings.TrimSpace(string(comm))]++
		}
	}
	return names
}

// markedProcesses lists the processes whose environment holds kv exactly.
func markedProcesses(kv string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err == nil && bytes.Contains(append([]byte{0}, env...), []byte("\x00"+kv+"\x00")) {
			pids = append(pids, pid)
		}
	}
	return pids
}
