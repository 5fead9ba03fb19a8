"""A packet capture of the router's interfaces while traffic flows and the checks run, kept in a
bounded ring of files so a failing run can show what the router saw."""
import os
import select
import shutil
import signal
import subprocess
import time

SNAPLEN = 160              # headers of every protocol the designs use, no payload
RING_FILES = 4             # tcpdump -W: the oldest file is overwritten first
RING_FILE_MB = 8           # tcpdump -C: so at most 32 MB per run
FLOW_SAMPLE_MASK = 0xF     # keep 1 flow in 16 of the bulk stream (by source port), all else whole
READY_TIMEOUT_S = 10
FOLDER_SUFFIX = "-capture"  # the ring lives in RUN/<node>-capture, owned by tcpdump


def capture_filter(stream_port):
    """Control traffic (OSPF, BFD, ARP, DNS, HTTP, VRRP) whole; of the injected stream, the flows
    whose source port's low bits are zero: at 200k packets/s the ring then spans about 10 s."""
    return (f"not (udp dst port {stream_port}) or "
            f"(udp dst port {stream_port} and udp[0:2] & {FLOW_SAMPLE_MASK} = 0)")


class Capture:
    def __init__(self, run, node, stream_port):
        self.run, self.node = run, node
        self.dir = run.node_dir(f"{node.logical}{FOLDER_SUFFIX}", owner=("tcpdump", "tcpdump"))
        self.path = self.dir / "capture.pcap"
        # --immediate-mode: packets reach the file as they come, not when a 1 s kernel block retires.
        self.argv = ["tcpdump", "-i", "any", "-n", "--immediate-mode", "-s", str(SNAPLEN), "-C", str(RING_FILE_MB),
                     "-W", str(RING_FILES), "-w", str(self.path), capture_filter(stream_port)]
        self.proc = None
        self.summary = ""

    def start(self):
        """Returns once tcpdump says it is listening: packets from then on are in the capture."""
        self.proc = self.node.start_argv(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.run.adopt(self.proc.pid, f"{self.node.logical}/tcpdump", child=self.proc)
        deadline = time.monotonic() + READY_TIMEOUT_S
        said, fd = b"", self.proc.stderr.fileno()
        # Raw reads: "data link type ..." and "listening on ..." often come in one read, and a
        # buffered readline would hide the second line from select().
        while b"listening on" not in said and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(fd, 4096) if ready else b""
            if not chunk:
                break
            said += chunk
        if b"listening on" not in said:
            text = " ".join(said.decode(errors="replace").split()) or "no answer"
            raise RuntimeError(f"{self.node.logical}: tcpdump did not start: {text}")
        return self

    def stop(self):
        """Ends tcpdump (it flushes on SIGTERM) and keeps its closing statistics."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            err = ""
        self.run.end_process(self.proc.pid)
        self.summary = " ".join(line.strip() for line in err.splitlines() if "packets" in line)

    def files(self):
        """The ring's files, oldest first."""
        return sorted(self.dir.glob("capture.pcap*"), key=lambda p: p.stat().st_mtime)

    def copy_to(self, folder):
        folder.mkdir(exist_ok=True)
        copied = []
        for index, path in enumerate(self.files()):
            target = folder / f"{self.node.logical}-{index}.pcap"
            shutil.copyfile(path, target)
            copied.append(target.name)
        return copied
