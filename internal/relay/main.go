// Command relay is the `losslab` Jupyter kernel: it starts GoNB behind it and passes every message
// between Jupyter and GoNB, correcting what stock GoNB gets wrong for notebooks run unattended.
//
//   - A cell whose program fails (a panic in main or in a goroutine, os.Exit(n) with n ≠ 0, log.Fatal,
//     a fatal runtime error, an interrupt) is reported with status "error", an `error` output and
//     ename/evalue/traceback, where GoNB says "ok" and prints "exit status N": Jupyter's Run All,
//     nbconvert and papermill then stop at it.
//   - After a failed cell, execute requests queued behind it are answered "aborted" (with
//     stop_on_error, Jupyter's default), as other kernels do. The relay gives GoNB one execute
//     request at a time so that it can.
//   - is_complete_request, which GoNB ignores, is answered for Go (see isComplete).
//   - GoNB runs with --raw_error, so a compile error is one `error` output holding the compiler's
//     messages, not an HTML view plus an error naming only the failed `go build`.
//
// Usage: relay CONNECTION_FILE. GoNB is the gonb next to the relay's executable. The relay writes GoNB
// a connection file of its own (the same key, fresh local ports), ends when GoNB ends, and has Linux
// kill GoNB (and with it gopls, see internal/goplsguard) if the relay itself is killed.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/go-zeromq/zmq4"
)

// connection is Jupyter's connection file.
type connection struct {
	Transport       string `json:"transport"`
	IP              string `json:"ip"`
	ShellPort       int    `json:"shell_port"`
	IOPubPort       int    `json:"iopub_port"`
	StdinPort       int    `json:"stdin_port"`
	ControlPort     int    `json:"control_port"`
	HBPort          int    `json:"hb_port"`
	Key             string `json:"key"`
	SignatureScheme string `json:"signature_scheme"`
	KernelName      string `json:"kernel_name,omitempty"`
}

func (c connection) endpoint(port int) string {
	if c.Transport == "ipc" {
		return fmt.Sprintf("ipc://%s-%d", c.IP, port)
	}
	return fmt.Sprintf("%s://%s:%d", c.Transport, c.IP, port)
}

func main() {
	// Linux sends GoNB its parent-death signal when the thread that started it ends: keep that thread.
	runtime.LockOSThread()
	logger := log.New(os.Stderr, "losslab relay: ", 0)
	if len(os.Args) != 2 {
		logger.Fatal("usage: relay CONNECTION_FILE")
	}
	code, err := run(os.Args[1], logger)
	if err != nil {
		logger.Fatal(err)
	}
	os.Exit(code)
}

// run relays for the connection file at path until GoNB ends, and returns GoNB's exit code.
func run(path string, logger *log.Logger) (int, error) {
	var front connection
	data, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(data, &front)
	}
	if err != nil {
		return 0, fmt.Errorf("reading the connection file: %w", err)
	}
	if front.SignatureScheme != "" && front.SignatureScheme != "hmac-sha256" {
		return 0, fmt.Errorf("connection file %s: signature scheme %q, only hmac-sha256 is supported", path, front.SignatureScheme)
	}
	back, err := backConnection(front)
	if err != nil {
		return 0, err
	}
	// GoNB takes the kernel id Jupyter gave (GONB_JUPYTER_KERNEL_ID) from the file's name: keep it.
	dir, err := os.MkdirTemp("", "losslab-relay-") // mode 0700: the file holds the key
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	backFile := filepath.Join(dir, filepath.Base(path))
	if err := writeConnection(backFile, back); err != nil {
		return 0, err
	}

	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	gonb := exec.Command(filepath.Join(filepath.Dir(self), "gonb"), "--raw_error", "--kernel", backFile)
	gonb.Stdin, gonb.Stdout, gonb.Stderr = nil, os.Stdout, os.Stderr
	gonb.SysProcAttr = endWithRelay()
	// Signals for the kernel (SIGINT interrupts a cell in GoNB; SIGTERM, SIGHUP end it) go to GoNB.
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	if err := gonb.Start(); err != nil {
		return 0, fmt.Errorf("starting GoNB: %w", err)
	}
	go func() {
		for s := range signals {
			_ = gonb.Process.Signal(s)
		}
	}()

	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan error, 1)
	go func() {
		exited <- gonb.Wait()
		cancel()
	}()
	if err := serve(ctx, front, back, logger); err != nil && ctx.Err() == nil {
		_ = gonb.Process.Kill()
		<-exited
		return 0, err
	}
	err = <-exited
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return exitErr.ExitCode(), nil
	}
	return 0, err
}

// backConnection is the connection file for GoNB: front's key, fresh ports on the loopback interface.
func backConnection(front connection) (connection, error) {
	back := front
	back.Transport, back.IP = "tcp", "127.0.0.1"
	for _, port := range []*int{&back.ShellPort, &back.IOPubPort, &back.StdinPort, &back.ControlPort, &back.HBPort} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return back, fmt.Errorf("finding a free port for GoNB: %w", err)
		}
		*port = l.Addr().(*net.TCPAddr).Port
		defer l.Close() // held until all five are picked, so that they differ
	}
	return back, nil
}

// writeConnection writes c to the file path, readable by its owner only.
func writeConnection(path string, c connection) error {
	data, err := json.Marshal(c)
	if err == nil {
		err = os.WriteFile(path, data, 0o600)
	}
	if err != nil {
		return fmt.Errorf("writing GoNB's connection file: %w", err)
	}
	return nil
}

// lockedSink sends on sock, one message at a time.
func lockedSink(sock zmq4.Socket) sink {
	var mu sync.Mutex
	return func(frames [][]byte) error {
		mu.Lock()
		defer mu.Unlock()
		return sock.SendMulti(zmq4.NewMsgFrom(frames...))
	}
}

// serve binds Jupyter's sockets, connects to GoNB's, and relays until ctx ends (GoNB exited).
func serve(ctx context.Context, front, back connection, logger *log.Logger) error {
	relayID := zmq4.SocketIdentity("losslab-relay-" + newID())
	// Towards Jupyter, the sockets a kernel binds.
	shell, control, stdin := zmq4.NewRouter(ctx), zmq4.NewRouter(ctx), zmq4.NewRouter(ctx)
	iopub, hb := zmq4.NewPub(ctx), zmq4.NewRep(ctx)
	// Towards GoNB, the sockets a client connects. The shell and stdin sockets share an identity,
	// as a Jupyter client's do, so that GoNB's input requests find their way back.
	// Dials are retried until GoNB listens (or ends, which cancels ctx).
	opts := []zmq4.Option{zmq4.WithID(relayID), zmq4.WithDialerMaxRetries(-1), zmq4.WithDialerRetry(100 * time.Millisecond)}
	gShell, gControl, gStdin := zmq4.NewDealer(ctx, opts...), zmq4.NewDealer(ctx, opts...), zmq4.NewDealer(ctx, opts...)
	gIOPub := zmq4.NewSub(ctx, opts[1:]...)
	all := []zmq4.Socket{shell, control, stdin, iopub, hb, gShell, gControl, gStdin, gIOPub}
	defer func() {
		for _, s := range all {
			s.Close()
		}
	}()
	for _, l := range []struct {
		sock zmq4.Socket
		port int
	}{{shell, front.ShellPort}, {control, front.ControlPort}, {stdin, front.StdinPort}, {iopub, front.IOPubPort}, {hb, front.HBPort}} {
		if err := l.sock.Listen(front.endpoint(l.port)); err != nil {
			return fmt.Errorf("listening on %s: %w", front.endpoint(l.port), err)
		}
	}
	if err := gIOPub.SetOption(zmq4.OptionSubscribe, ""); err != nil {
		return err
	}
	for _, d := range []struct {
		sock zmq4.Socket
		port int
	}{{gShell, back.ShellPort}, {gControl, back.ControlPort}, {gStdin, back.StdinPort}, {gIOPub, back.IOPubPort}} {
		if err := d.sock.Dial(back.endpoint(d.port)); err != nil {
			return fmt.Errorf("connecting to GoNB: %w", err)
		}
	}

	r := &relay{
		key: []byte(front.Key), relayID: []byte(relayID), log: logger,
		clientShell: lockedSink(shell), clientIOPub: lockedSink(iopub), gonbShell: lockedSink(gShell),
	}
	session := newID()
	r.session.Store(&session)
	pipes := []struct {
		from   zmq4.Socket
		handle func([][]byte)
	}{
		{shell, r.fromClientShell},
		{gShell, r.fromGoNBShell},
		{gIOPub, r.fromGoNBIOPub},
		{control, passTo(lockedSink(gControl), logger)},
		{gControl, passTo(lockedSink(control), logger)},
		{stdin, passTo(lockedSink(gStdin), logger)},
		{gStdin, passTo(lockedSink(stdin), logger)},
		{hb, passTo(lockedSink(hb), logger)}, // the heartbeat echoes; the relay lives as long as GoNB
	}
	for _, p := range pipes {
		go func() {
			for {
				msg, err := p.from.Recv()
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					// A peer that went away (a Jupyter client that reconnects, GoNB ending) reads as
					// an error once; the socket goes on serving the others.
					if !errors.Is(err, io.EOF) {
						logger.Printf("receiving: %v", err)
					}
					time.Sleep(10 * time.Millisecond)
					continue
				}
				p.handle(msg.Frames)
			}
		}()
	}
	<-ctx.Done()
	return nil
}

// passTo returns a handler that sends every message on unchanged.
func passTo(to sink, logger *log.Logger) func([][]byte) {
	return func(frames [][]byte) {
		if err := to(frames); err != nil {
			logger.Printf("sending: %v", err)
		}
	}
}
