#!/usr/bin/env python3
"""The tunnel agent against a real strongSwan charon (integration test, needs root).

Builds two network namespaces of its own, `ppo<pid>-gw` and `ppo<pid>-peer`, joined by a veth
pair, starts one charon in each (kernel-libipsec, see lab/README.md), brings up an
IKEv2 tunnel "a" (a second connection "b" is configured but never initiated), and runs
`pathpilot agent` in the gateway namespace with a fake CloudWatch endpoint (pathpilot-fake-aws)
in the China region cn-north-1. It checks:
  - /metrics: tunnel a up, b down, traffic counters grow with pings through the tunnel,
    interface counters, and that promtool accepts the exposition;
  - `pathpilot agent --once` prints the same state as JSON;
  - CloudWatch receives TunnelState, TunnelDataIn and TunnelDataOut with Tunnel=<name>;
  - charon killed: the agent keeps running, reports vici_up 0 and the tunnel down, /healthz 503,
    and logs a clear error; charon restarted: the agent reconnects and the tunnel is up again.
Everything it creates (namespaces, processes by PID, files) is removed at the end.
Exit 77 (skipped) when not root or strongSwan is not installed.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("PP_BUILD_DIR", "build")
PATHPILOT = os.path.join(BUILD, "src/cli/pathpilot")
FAKE_AWS = os.path.join(BUILD, "src/aws/pathpilot-fake-aws")
CHARON = "/usr/lib/ipsec/charon"
TAG = f"ppo{os.getpid() % 100000}"
NS_GW, NS_PEER = f"{TAG}-gw", f"{TAG}-peer"
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                "lab"))
from ppkit.proc import sh, nsx  # noqa: E402
from ppkit.prom import metric  # noqa: E402
from ppkit.wait import wait_for  # noqa: E402

PLUGINS = ("random nonce openssl pem pkcs1 x509 pubkey curve25519 aes gcm sha1 sha2 hmac kdf "
           "kernel-libipsec kernel-netlink socket-default vici updown counters")


class Lab:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pp_obs_agent_")
        self.procs = []  # (name, Popen) started by us, stopped by PID
        self.charon_pid = {}

    # ---- namespaces -----------------------------------------------------------------------
    def up(self):
        for ns in (NS_GW, NS_PEER):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", "out", "netns", NS_GW, "type", "veth", "peer", "name", "out",
           "netns", NS_PEER)
        sh("ip", "-n", NS_GW, "addr", "add", "203.0.113.11/24", "dev", "out")
        sh("ip", "-n", NS_PEER, "addr", "add", "203.0.113.20/24", "dev", "out")
        for ns in (NS_GW, NS_PEER):
            sh("ip", "-n", ns, "link", "set", "out", "up")
        # Every local traffic selector must hold an address of the gateway (lab/README.md, strongSwan note 4).
        sh("ip", "-n", NS_GW, "addr", "add", "10.1.1.254/32", "dev", "lo")
        sh("ip", "-n", NS_PEER, "addr", "add", "10.10.0.1/32", "dev", "lo")

    def down(self):
        for name, p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for name, p in reversed(self.procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for ns, pid in list(self.charon_pid.items()):
            self.stop_charon(ns)
        for ns in (NS_GW, NS_PEER):
            sh("ip", "netns", "del", ns, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---- strongSwan -------------------------------------------------------------------------
    def vici(self, ns):
        return f"unix://{self.dir}/{ns}/charon.vici"

    def write_charon_config(self, ns, local, remote, local_ts, remote_ts, my_id, peer_id,
                            extra_conn=""):
        base = os.path.join(self.dir, ns)
        os.makedirs(os.path.join(base, "run"), exist_ok=True)
        sw = os.path.join(base, "swanctl")
        for sub in ("x509", "x509ca", "x509ocsp", "x509aa", "x509ac", "x509crl", "pubkey",
                    "private", "rsa", "ecdsa", "bliss", "pkcs8", "pkcs12"):
            os.makedirs(os.path.join(sw, sub), exist_ok=True)
        with open(os.path.join(base, "strongswan.conf"), "w") as f:
            f.write(f"""charon {{
  load_modular = no
  load = {PLUGINS}
  plugins {{
    vici {{
      socket = {self.vici(ns)}
    }}
  }}
  filelog {{
    obs {{
      path = {base}/charon.log
      default = 1
      flush_line = yes
    }}
  }}
  syslog {{
    daemon {{
      default = -1
    }}
  }}
}}
""")
        with open(os.path.join(sw, "swanctl.conf"), "w") as f:
            f.write(f"""connections {{
  a {{
    version = 2
    local_addrs = {local}
    remote_addrs = {remote}
    encap = yes
    local {{
      auth = psk
      id = {my_id}
    }}
    remote {{
      auth = psk
      id = {peer_id}
    }}
    children {{
      a {{
        local_ts = {local_ts}
        remote_ts = {remote_ts}
        esp_proposals = aes128gcm16
        start_action = none
      }}
    }}
  }}
{extra_conn}}}
secrets {{
  ike-a {{
    id-1 = {my_id}
    id-2 = {peer_id}
    secret = "obs-agent-test-psk"
  }}
}}
""")

    def start_charon(self, ns):
        base = os.path.join(self.dir, ns)
        pidfile = os.path.join(base, "pid")
        if os.path.exists(pidfile):
            os.remove(pidfile)
        # A private /run per charon (its pid file is hard-coded); `echo $$; exec` records the
        # real charon PID (ip netns exec forks).
        p = subprocess.Popen(
            ["ip", "netns", "exec", ns, "sh", "-c",
             f"mount --bind {base}/run /run && echo $$ > {pidfile} && "
             f"STRONGSWAN_CONF={base}/strongswan.conf exec {CHARON}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append((f"charon-{ns}", p))
        self.charon_pid[ns] = int(wait_for(lambda: open(pidfile).read().strip(), 10, "charon pid"))
        wait_for(lambda: nsx(ns, "swanctl", "--stats", "--uri", self.vici(ns), check=False)
             .returncode == 0, 10, f"charon in {ns} to answer")
        nsx(ns, "swanctl", "--load-all", "--uri", self.vici(ns), "--file",
            f"{base}/swanctl/swanctl.conf")

    def stop_charon(self, ns):
        pid = self.charon_pid.pop(ns, None)
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        until = time.time() + 15
        while time.time() < until:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            # reap if it is our child's child (ip netns exec sh → exec charon)
            for name, p in self.procs:
                if p.pid and p.poll() is not None:
                    pass
            time.sleep(0.1)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def initiate(self):
        nsx(NS_GW, "swanctl", "--initiate", "--child", "a", "--uri", self.vici(NS_GW),
            timeout=30)

    def ping(self, count=5):
        nsx(NS_GW, "ping", "-c", str(count), "-i", "0.2", "-W", "1", "-I", "10.1.1.254",
            "10.10.0.1", check=False)


def get(port, path):
    cmd = ["ip", "netns", "exec", NS_GW, "curl", "-s", "-o", "-", "-w", "\n%{http_code}",
           f"http://127.0.0.1:{port}{path}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
    body, _, code = out.rpartition("\n")
    return int(code or 0), body


def main():
    if os.geteuid() != 0:
        print("skipped: needs root (network namespaces)")
        return 77
    for tool in (CHARON, shutil.which("swanctl"), shutil.which("curl")):
        if not tool or not os.path.exists(tool):
            print("skipped: strongSwan (strongswan-charon, strongswan-swanctl) or curl missing")
            return 77
    for binary in (PATHPILOT, FAKE_AWS):
        if not os.path.exists(binary):
            print(f"missing {binary}: build the pathpilot and pathpilot-fake-aws targets")
            return 1
    lab = Lab()
    try:
        lab.up()
        lab.write_charon_config(
            NS_GW, "203.0.113.11", "203.0.113.20", "10.1.1.0/24", "10.10.0.0/16", "gw", "peer",
            extra_conn="""  b {
    version = 2
    local_addrs = 203.0.113.11
    remote_addrs = 203.0.113.21
    local {
      auth = psk
      id = gw
    }
    remote {
      auth = psk
      id = nobody
    }
    children {
      b {
        local_ts = 10.1.1.0/24
        remote_ts = 10.20.0.0/16
        start_action = none
      }
    }
  }
""")
        lab.write_charon_config(NS_PEER, "203.0.113.20", "203.0.113.11", "10.10.0.0/16",
                                "10.1.1.0/24", "peer", "gw")
        lab.start_charon(NS_PEER)
        lab.start_charon(NS_GW)
        lab.initiate()

        # Fake CloudWatch in the gateway namespace.
        fake_log = os.path.join(lab.dir, "fake-aws.log")
        fake = subprocess.Popen(
            ["ip", "netns", "exec", NS_GW, FAKE_AWS, "--listen", "127.0.0.1:0", "--region",
             "cn-north-1"], stdout=open(fake_log, "w"), stderr=subprocess.STDOUT)
        lab.procs.append(("fake-aws", fake))
        fake_url = wait_for(lambda: re.search(r"listening on (http://\S+)", open(fake_log).read())
                        .group(1), 10, "fake AWS endpoint")
        fake_port = fake_url.rsplit(":", 1)[1]

        port = 19400 + os.getpid() % 500
        config = os.path.join(lab.dir, "agent.yaml")
        with open(config, "w") as f:
            f.write(f"""gateway: gw-test
site: Lab
vici:
  socket: {lab.vici(NS_GW)}
  timeout: 500ms
poll_interval: 1s
interfaces: [ipsec0, out]
listen: 127.0.0.1:{port}
cloudwatch:
  region: cn-north-1
  namespace: pathpilot/Tunnels
  dimensions: {{Site: Lab, Gateway: gw-test}}
  interval: 10s
  endpoint_url: {fake_url}
""")
        env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDEXAMPLE",
                   AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                   AWS_EC2_METADATA_DISABLED="true")
        env.pop("AWS_PROFILE", None)
        check = sh(PATHPILOT, "agent", "-c", config, "--check")
        assert "CloudWatch cn-north-1" in check.stdout, check.stdout
        agent_log = os.path.join(lab.dir, "agent.log")
        agent = subprocess.Popen(["ip", "netns", "exec", NS_GW, PATHPILOT, "agent", "-c", config],
                                 stdout=open(agent_log, "w"), stderr=subprocess.STDOUT, env=env)
        lab.procs.append(("agent", agent))

        # 1. State and traffic on /metrics.
        text = wait_for(lambda: (lambda r: r[1] if r[0] == 200 and
                             metric(r[1], "pathpilot_tunnel_up", tunnel="a") == 1 else None)(
                    get(port, "/metrics")), 15, "tunnel a up on /metrics")
        assert metric(text, "pathpilot_tunnel_up", tunnel="b") == 0, text
        assert metric(text, "pathpilot_agent_vici_up") == 1
        lab.ping(5)
        # The agent polls charon every second: wait for a poll that saw all five pings (a poll
        # during the pings shows bytes already, but not yet every packet).
        text = wait_for(lambda: (lambda t: t if (metric(t, "pathpilot_tunnel_packets_out_total",
                                                    tunnel="a") or 0) >= 5 else None)(
                    get(port, "/metrics")[1]), 10, "tunnel packets to grow")
        assert (metric(text, "pathpilot_tunnel_bytes_in_total", tunnel="a") or 0) > 0, text
        assert metric(text, "pathpilot_tunnel_packets_out_total", tunnel="a") >= 5, text
        assert (metric(text, "pathpilot_interface_transmit_bytes_total", interface="ipsec0")
                or 0) > 0, text
        assert metric(text, "pathpilot_interface_up", interface="out") == 1
        if shutil.which("promtool"):
            pt = subprocess.run(["promtool", "check", "metrics"], input=text,
                                capture_output=True, text=True)
            assert pt.returncode == 0, pt.stdout + pt.stderr
        print("ok: /metrics shows tunnel a up, b down, traffic and interface counters")

        once = nsx(NS_GW, PATHPILOT, "agent", "-c", config, "--once")
        state = json.loads(once.stdout)
        tunnels = {t["tunnel"]: t for t in state["tunnels"]}
        assert tunnels["a"]["up"] and not tunnels["b"]["up"], once.stdout
        assert tunnels["a"]["ike_state"] == "ESTABLISHED"
        print("ok: agent --once")

        # 2. CloudWatch got the three metrics for both tunnels, signed for cn-north-1.
        def fake_metrics():
            out = nsx(NS_GW, "curl", "-s", f"{fake_url}/_fake/state").stdout
            data = json.loads(out).get("metrics", [])
            return data if any(m.get("name") == "TunnelDataIn" for m in data) else None

        data = wait_for(fake_metrics, 30, "PutMetricData at the fake CloudWatch", interval=1)
        names = {m["name"] for m in data}
        assert {"TunnelState", "TunnelDataIn", "TunnelDataOut"} <= names, data
        tunnel_dims = {m["dimensions"].get("Tunnel") for m in data}
        assert all(m["dimensions"].get("Site") == "Lab" for m in data), data
        assert {"a", "b"} <= tunnel_dims, data
        assert all(m["namespace"] == "pathpilot/Tunnels" for m in data), data
        print(f"ok: CloudWatch (cn-north-1 endpoint override) received {len(data)} data points "
              f"({sorted(names)})")

        # 3. charon goes away: the agent keeps running and says so.
        lab.stop_charon(NS_GW)
        wait_for(lambda: metric(get(port, "/metrics")[1], "pathpilot_agent_vici_up") == 0, 15,
             "vici_up 0")
        text = get(port, "/metrics")[1]
        assert metric(text, "pathpilot_tunnel_up", tunnel="a") == 0, text
        code, body = get(port, "/healthz")
        assert code == 503 and "charon does not answer" in body, (code, body)
        assert agent.poll() is None, "the agent exited when charon went away"
        log = open(agent_log).read()
        assert "cannot read tunnel state: vici unix://" in log, log
        print("ok: charon down → vici_up 0, tunnels down, /healthz 503, agent still running")

        # 4. charon comes back: the agent reconnects by itself.
        lab.start_charon(NS_GW)
        lab.initiate()
        wait_for(lambda: metric(get(port, "/metrics")[1], "pathpilot_tunnel_up", tunnel="a") == 1,
             15, "tunnel a up again after the restart")
        text = get(port, "/metrics")[1]
        assert metric(text, "pathpilot_agent_vici_connects_total") >= 2, text
        assert get(port, "/healthz")[0] == 200
        assert "charon answers again" in open(agent_log).read()
        print("ok: charon back → agent reconnected, tunnel a up")
        agent.terminate()
        assert agent.wait(timeout=10) == 0, open(agent_log).read()
        return 0
    except (AssertionError, TimeoutError) as e:
        print(f"FAILED: {e}")
        for name in ("agent.log", "fake-aws.log", f"{NS_GW}/charon.log"):
            path = os.path.join(lab.dir, name)
            if os.path.exists(path):
                print(f"---- {name} (tail)\n" + "".join(open(path).readlines()[-30:]))
        return 1
    finally:
        lab.down()


if __name__ == "__main__":
    sys.exit(main())
