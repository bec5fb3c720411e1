"""Jupyter's own kernel test suite (jupyter_kernel_test) against the `losslab` kernel, plus survival tests:
a compile error, a panic, os.Exit(3), an interrupted infinite loop and 50 MB of output must each leave the
kernel alive and the next cell working.

Run by kernelconf_test.go with Debian's /usr/bin/python3 (package python3-jupyter-kernel-test).

The kernel is GoNB behind LossLab's relay (internal/relay), which reports failed cell programs as
errors, aborts the cells queued behind a failed one, answers is_complete_request and has GoNB report a
compile error as one error output. Stock cases still skipped or overridden, and why:
  - test_pager: GoNB has no pager payloads (skipped: no code_page_something).
  - test_history: GoNB does not implement history_request (skipped: no code_execute_result).
  - test_execute_result: GoNB sends cell output as stream/display_data, never execute_result (Go has no
    "value of the last expression"; skipped).
  - test_clear_output: GoNB has no clear_output from cell code (skipped).
  - Inspection: the stock test_inspect passes (gopls answers), but after a sequence of cells that import
    lib/ and a compile error, gopls sometimes answers "no package metadata for file .../main.go" for a while
    (seen in this suite, not reproduced in a plain session); we do not assert on the hover text.
  - test_completion (stock form): sends one request; GoNB's reply while gopls is still loading is an error
    without the fields the schema requires. Overridden below to wait for an "ok" reply first.
"""
import queue
import time
import unittest

import jupyter_kernel_test
from jupyter_client.manager import start_new_kernel
from jupyter_kernel_test.msgspec_v5 import validate_message

KERNEL = "losslab"
SLOW = 120  # seconds: the first cell of a kernel may compile GoMLX.


def start_kernel():
    """start_new_kernel, tried up to 3 times: jupyter_client picks the kernel's ports free and the kernel
    binds them later, so a kernel started meanwhile by a test running in parallel can take one, and this
    kernel then dies before answering. Only the start is retried, never a test."""
    for attempt in range(1, 4):
        try:
            return start_new_kernel(kernel_name=KERNEL)
        except RuntimeError as e:
            if attempt == 3:
                raise
            print("kernel failed to start (%r); starting it again" % e, flush=True)


class LossLabKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = KERNEL
    language_name = "go"
    file_extension = ".go"

    code_hello_world = '%%\nfmt.Println("hello, world")'
    code_stderr = '%%\nfmt.Fprintln(os.Stderr, "to stderr")'
    code_generate_error = "%%\nthisDoesNotCompile()"
    code_display_data = [
        {"code": '%%\ngonbui.DisplayHTML("<b>bold</b>"); gonbui.Sync()', "mime": "text/html"},
        {"code": '%%\nnb.SVG(`<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>`)',
         "mime": "text/html"},
    ]
    code_inspect_sample = "fmt.Println"
    completion_samples = [{"text": "fmt.Printl"}]
    complete_code_samples = ['%%\nfmt.Println("hi")', "func f() int { return 1 }", "x := 1\nx++",
                             "s := `raw\nstring`", "%env A 1", "// a comment (with a paren"]
    incomplete_code_samples = ["func f() {", "x := []int{1,\n2,", "s := `raw\nstill raw", "y := 1 +",
                               "/* an open\ncomment", "!echo a \\"]
    invalid_code_samples = ["x := )", 'fmt.Println("unterminated\n")', "f(]"]

    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start_kernel()  # what jupyter_kernel_test's setUpClass does, with retries
        # Warm up: the first cell compiles; jupyter_kernel_test waits only 15 s per reply.
        cls.kc.execute_interactive('import "github.com/losslab/losslab/lib/nb"\n\n%%\nfmt.Println("warm")',
                                   timeout=SLOW, output_hook=lambda m: None)

    def complete_when_ready(self, code, cursor_pos=None, ready=lambda content: content["status"] == "ok"):
        """Sends a completion request until the reply's content is ready(content), for up to a minute, and
        returns the last (msg_id, reply). GoNB gives gopls a short deadline per request; a fresh gopls (cold
        cache, busy machine, as in CI) may still be loading packages and answer with an error."""
        for attempt in range(12):
            msg_id = self.kc.complete(code, cursor_pos=cursor_pos)
            reply = self.get_non_kernel_info_reply(timeout=60)
            if ready(reply["content"]):
                break
            time.sleep(5)
        return msg_id, reply

    def test_completion(self):
        """GoNB deviation: while its gopls is still loading packages, GoNB answers a completion request with
        status "error" and no ename/evalue/traceback, which the reply schema rejects. We wait for an "ok"
        reply (complete_when_ready), then run the stock checks on it."""
        for sample in self.completion_samples:
            with self.subTest(text=sample["text"]):
                msg_id, reply = self.complete_when_ready(sample["text"])
                validate_message(reply, "complete_reply", msg_id)
                if "matches" in sample:
                    self.assertEqual(set(reply["content"]["matches"]), set(sample["matches"]))

    def test_completion_finds_println(self):
        code = "%%\nfmt.Printl"
        _, reply = self.complete_when_ready(code, cursor_pos=len(code),
                                            ready=lambda c: c["status"] == "ok" and c["matches"])
        self.assertEqual(reply["content"]["status"], "ok")
        self.assertIn("Println", " ".join(reply["content"]["matches"]))


class Survival(unittest.TestCase):
    """Each way a cell can go wrong leaves the kernel alive and the next cell working."""

    @classmethod
    def setUpClass(cls):
        cls.km, cls.kc = start_kernel()
        cls.run_cell('%%\nfmt.Println("warm")', timeout=SLOW)

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel(now=True)

    @classmethod
    def run_cell(cls, code, timeout=60, on_start=None):
        """Executes code; returns (status, stdout, stderr+errors, bytes of output)."""
        msg_id = cls.kc.execute(code)
        out, err, size = [], [], 0
        deadline = time.time() + timeout
        started = False
        while True:
            try:
                msg = cls.kc.get_iopub_msg(timeout=max(0.1, deadline - time.time()))
            except queue.Empty:
                raise AssertionError(f"no idle status within {timeout}s for {code!r}")
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            t, c = msg["msg_type"], msg["content"]
            if t == "status" and c["execution_state"] == "busy" and not started:
                started = True
                if on_start:
                    on_start()
            if t == "stream":
                size += len(c["text"])
                (out if c["name"] == "stdout" else err).append(c["text"][-2000:])
            elif t == "error":
                err.append(c["ename"] + ": " + c["evalue"])
            elif t == "status" and c["execution_state"] == "idle":
                break
        reply = cls.kc.get_shell_msg(timeout=timeout)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = cls.kc.get_shell_msg(timeout=timeout)
        return reply["content"]["status"], "".join(out), "".join(err), size

    def assertAlive(self):
        self.assertTrue(self.km.is_alive(), "the kernel process died")
        status, out, err, _ = self.run_cell('%%\nfmt.Println("still alive")')
        self.assertEqual(status, "ok", err)
        self.assertIn("still alive", out)

    def test_compile_error(self):
        status, _, err, _ = self.run_cell("%%\nx := undefinedName + 1")
        self.assertEqual(status, "error")
        self.assertAlive()

    def assertFailed(self, code, want):
        """The cell's reply says "error" and an error output names the failure, so that Jupyter's Run All,
        nbconvert and papermill stop there (stock GoNB said "ok" and only printed "exit status N")."""
        status, _, err, _ = self.run_cell(code)
        self.assertEqual(status, "error", err)
        self.assertIn(want, err)
        self.assertAlive()

    def test_panic(self):
        self.assertFailed('%%\npanic("boom")', "panic: boom")

    def test_panic_in_goroutine(self):
        self.assertFailed('%%\ndone := make(chan bool)\ngo func() { panic("far away") }()\n<-done',
                          "panic: far away")

    def test_os_exit(self):
        self.assertFailed("%%\nos.Exit(3)", "exit status 3")

    def test_log_fatal(self):
        self.assertFailed('%%\nlog.Fatal("gave up")', "exit status 1")

    def test_run_all_stops_at_failed_cell(self):
        """Cells sent at once, as Jupyter's Run All sends them: those queued behind a failed cell are
        answered "aborted" and do not run."""
        ids = [self.kc.execute(code) for code in ('%%\nos.Exit(3)', '%%\nfmt.Println("ran anyway")')]
        replies = {}
        while len(replies) < 2:
            reply = self.kc.get_shell_msg(timeout=60)
            if reply["parent_header"].get("msg_id") in ids:
                replies[reply["parent_header"]["msg_id"]] = reply["content"]["status"]
        self.assertEqual([replies[i] for i in ids], ["error", "aborted"])
        self.assertAlive()

    def test_infinite_loop_interrupted(self):
        def interrupt_soon():
            time.sleep(4)  # let it compile and start looping
            self.km.interrupt_kernel()
        import threading
        start = time.time()
        status, _, err, _ = self.run_cell("%%\nfor {\n}", timeout=90,
                                          on_start=lambda: threading.Thread(target=interrupt_soon, daemon=True).start())
        self.assertEqual(status, "error", err)
        self.assertLess(time.time() - start, 60, "the interrupt did not stop the loop")
        self.assertAlive()

    def test_50mb_of_output(self):
        code = '%%\nline := strings.Repeat("x", 99)\nfor i := 0; i < 500_000; i++ {\n\tfmt.Println(line)\n}\nfmt.Println("END")'
        status, out, err, size = self.run_cell(code, timeout=300)
        self.assertGreaterEqual(size, 40_000_000, f"only {size} bytes of output arrived")
        self.assertAlive()


if __name__ == "__main__":
    unittest.main(verbosity=2)
