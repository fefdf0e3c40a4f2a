"""hagroup — a group of pathpilot monitors on a real 3-member etcd cluster, in one network
namespace of the caller's (stdlib only; used by ha_daemon_test.py and bench/ha/takeover.py).

The etcd members listen on the namespace's loopback (127.0.0.1:12379-12381, heartbeat 100 ms,
election timeout 1 s); monitors are real `pathpilot run` processes with `ha:` (lease TTL 2 s)
and one exec-backend route table rtb-a on nstest's one-veth probe topology (paths dx and
vpn-a). The "route table" is a file shared by every monitor, as an AWS route table is: the hook
rewrites it and the list command prints it, so a new leader adopts what the old one programmed.
The hook also appends one line per write to writes.log with the writer's name and the leader
key's holder at that moment, read from etcd by etcdctl — the check a fencing token would make
at the target.
"""

import json
import os
import secrets
import signal
import subprocess

import nstest

SITE = "HaLab"
DX_TARGET = "10.98.0.1/24"
VPN_TARGET = "10.98.1.1/24"
AWS_TABLE = "rtb-0a1b2c3d4e5f60718"
AWS_VGW = "vgw-0a1b2c3d"
AWS_INSTANCE = "i-0a1b2c3d4e5f60718"
CLIENT_PORTS = (12379, 12380, 12381)
PEER_PORTS = (12389, 12390, 12391)
ENDPOINTS = [f"http://127.0.0.1:{p}" for p in CLIENT_PORTS]
LEADER_KEY = f"/pathpilot/{SITE}/leader"

# The route table's hook: rewrites the table file under a lock, then logs who wrote and whom
# etcd names as leader right now. Arguments: node, work dir, etcd endpoints.
HOOK = r"""#!/bin/sh
node="$1"; work="$2"; endpoints="$3"
table="$work/table-$PATHPILOT_TABLE"
holder=$(ETCDCTL_API=3 etcdctl --endpoints="$endpoints" --command-timeout=3s \
         get "$LEADER_KEY" --print-value-only 2>/dev/null | head -n 1)
exec 9>>"$table.lock"
flock 9
grep -v "^$PATHPILOT_DESTINATION " "$table" 2>/dev/null > "$table.new"
if [ "$PATHPILOT_ACTION" = replace ]; then
  echo "$PATHPILOT_DESTINATION $PATHPILOT_NEW_NEXT_HOP" >> "$table.new"
fi
mv "$table.new" "$table"
echo "$(date +%s.%N) $node holder=$holder $PATHPILOT_ACTION $PATHPILOT_DESTINATION $PATHPILOT_PATH" \
  >> "$work/writes.log"
""".replace("$LEADER_KEY", LEADER_KEY)


# vpn-a's recovery command: appends "time node attempt" to recoveries.log and fails, so that
# the monitor backs off. Arguments: node, work dir.
RECOVERY = r"""#!/bin/sh
echo "$(date +%s.%N) $1 $PATHPILOT_ATTEMPT" >> "$2/recoveries.log"
exit 1
"""


def have_etcd():
    return os.path.exists("/usr/bin/etcd") and os.path.exists("/usr/bin/etcdctl")


class Write:
    def __init__(self, line):
        parts = line.split()
        self.time = float(parts[0])
        self.node = parts[1]
        self.holder = parts[2].split("=", 1)[1]
        self.action = parts[3]
        self.path = parts[5] if len(parts) > 5 else ""

    def __repr__(self):
        return f"{self.time:.3f} {self.node} (holder {self.holder}) {self.action} {self.path}"


class HaGroup:
    """etcd members and monitors inside namespace `box` of `net` (an nstest.Netns whose
    namespace already has nstest.add_probe_veth), working in `work`."""

    def __init__(self, net, box, work, prefix, lease_ttl=2, election_ms=1000,
                 agreement="majority"):
        self.lease_ttl = lease_ttl      # ha.lease_ttl of every monitor, seconds
        self.agreement = agreement      # ha.agreement of every monitor
        self.election_ms = election_ms  # etcd --election-timeout (a TTL ≥ 1.5 × this is kept)
        self.net = net
        self.box = box
        self.work = work
        self.prefix = prefix
        self.etcd = {}
        self.stopped = []
        self.hook_ports = {}  # node → port of its webhook receiver (start_hook): alerts on
        # With `recovery`, vpn-a has a command recovery (RECOVERY: logs the attempt, fails)
        # after 1 s down, with a back-off of `recovery` seconds.
        self.recovery = None
        # With start_fake_aws(): the table is a VPC route table in pathpilot-fake-aws, written
        # through the AWS backend, each monitor signing with an access key of its own.
        self.aws_url = None
        self.aws_keys = {}  # node → (access key id, secret)
        self.table_id = "rtb-a"
        with open(os.path.join(work, "hook.sh"), "w") as f:
            f.write(HOOK)
        with open(os.path.join(work, "recover.sh"), "w") as f:
            f.write(RECOVERY)
        # Each monitor probes from its own source addresses (mon-a .1, mon-b .2, ...), so that
        # one monitor alone can be cut off from the paths (cut_off()).
        for n in range(2, 4):
            for net16 in ("10.99.0", "10.99.1"):
                net.sh(box, "ip", "addr", "add", f"{net16}.{n}/24", "dev", "v0")

    @staticmethod
    def index(node):
        """1 for mon-a, 2 for mon-b, ... (the last octet of the node's probe sources)."""
        return ord(node[-1]) - ord("a") + 1

    def cut_from_etcd(self, node, cut=True):
        """Drops `node`'s traffic to etcd (it reaches the members at 127.0.0.N), inside the
        namespace only: its calls time out, the others' go on."""
        self.net.sh(self.box, "iptables", "-I" if cut else "-D", "INPUT", "-d",
                    f"127.0.0.{self.index(node)}", "-p", "tcp", "-m", "multiport", "--dports",
                    ",".join(map(str, CLIENT_PORTS)), "-j", "DROP")

    def cut_off(self, node, cut=True, paths=("dx", "vpn-a")):
        """Drops the probes `node` sends on `paths` (by its source addresses), inside the
        namespace only: its view of those paths goes down while the others' stays."""
        for net16 in [{"dx": "10.99.0", "vpn-a": "10.99.1"}[p] for p in paths]:
            self.net.sh(self.box, "iptables", "-I" if cut else "-D", "OUTPUT", "-s",
                        f"{net16}.{self.index(node)}", "-j", "DROP")

    def start_etcd(self):
        cluster = ",".join(f"m{i}=http://127.0.0.1:{p}" for i, p in enumerate(PEER_PORTS, 1))
        for i, (client, peer) in enumerate(zip(CLIENT_PORTS, PEER_PORTS), 1):
            name = f"m{i}"
            self.etcd[name] = self.net.spawn(f"etcd-{name}", self.box, [
                "/usr/bin/etcd", "--name", name, "--data-dir", f"{self.work}/etcd-{name}",
                # Also on 127.0.0.2 and 127.0.0.3: mon-b and mon-c reach etcd there, so that
                # one monitor alone can be cut off from etcd (cut_from_etcd()).
                "--listen-client-urls", ",".join(f"http://127.0.0.{h}:{client}"
                                                 for h in (1, 2, 3)),
                "--advertise-client-urls", f"http://127.0.0.1:{client}",
                "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-cluster", cluster, "--initial-cluster-state", "new",
                "--initial-cluster-token", self.prefix, "--heartbeat-interval", "100",
                "--election-timeout", str(self.election_ms), "--logger", "zap", "--log-level", "error"],
                nice=False)
        nstest.wait_for(lambda: self.etcdctl("put", "/pathpilot/ready", "1") is not None, 20,
                        "the etcd cluster to accept writes")

    def etcdctl(self, *args, timeout=5):
        out = subprocess.run(["ip", "netns", "exec", self.net.ns(self.box), "etcdctl",
                              f"--endpoints={','.join(ENDPOINTS)}", "--command-timeout=3s",
                              *args], capture_output=True, text=True, timeout=timeout,
                             env=dict(os.environ, ETCDCTL_API="3"))
        return out.stdout if out.returncode == 0 else None

    def resume_all(self):
        for proc in self.stopped:
            try:
                os.kill(proc.pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self.stopped = []

    def pause(self, proc):
        os.kill(proc.pid, signal.SIGSTOP)
        self.stopped.append(proc)

    def resume(self, proc):
        os.kill(proc.pid, signal.SIGCONT)
        self.stopped = [p for p in self.stopped if p is not proc]

    # --- monitors -----------------------------------------------------------------------------

    def config(self, node, work_name=None):
        work = os.path.join(self.work, work_name or node)
        os.makedirs(work, exist_ok=True)
        text = nstest.probe_veth_config(work, SITE, "1s")
        n = self.index(node)
        text = text.replace("source: 10.99.0.1}", f"source: 10.99.0.{n}}}")
        text = text.replace("source: 10.99.1.1}", f"source: 10.99.1.{n}}}")
        # The hook asks etcd from the monitor's own address too (cut_from_etcd cuts both).
        mine = ",".join(f"http://127.0.0.{n}:{p}" for p in CLIENT_PORTS)
        hook = (f"backends: {{exec: {{command: [/bin/sh, {self.work}/hook.sh, {node}, {self.work}, "
                f"'{mine}'], list_command: [/bin/sh, -c, "
                f"'cat \"$0/table-$PATHPILOT_TABLE\" 2>/dev/null; true', {self.work}]}}}}")
        if self.aws_url:
            text = text.replace("site: {name: HaLab}", "site: {name: HaLab, region: us-east-1}")
            text = text.replace("    next_hop: {via: 10.255.0.2, dev: v0}",
                                f"    next_hop: {{gateway_id: {AWS_VGW}}}")
            text = text.replace("    next_hop: {via: 10.255.1.2, dev: v0}",
                                f"    next_hop: {{instance_id: {AWS_INSTANCE}}}")
            text = text.replace("az: a\n", "az: us-east-1a\n")
            text = text.replace("  - id: rtb-a\n", f"  - id: {AWS_TABLE}\n")
            text = text.replace("    backend: exec\n", "    backend: aws\n")
            hook = f"backends: {{aws: {{endpoint_url: \"{self.aws_url}\"}}}}"
        text = text.replace("backends: {exec: {command: [/bin/true]}}", hook)
        if self.recovery:
            vpn_hop = "    next_hop: {via: 10.255.1.2, dev: v0}\n"
            text = text.replace(vpn_hop, vpn_hop + (
                f"    recovery: {{action: command, command: [/bin/sh, {self.work}/recover.sh, "
                f"{node}, {self.work}], after: 1s, timeout: 5s, "
                f"backoff: {{initial: {self.recovery}s, max: {2 * self.recovery}s}}}}\n"))
        endpoints = ", ".join(f"http://127.0.0.{n}:{p}" for p in CLIENT_PORTS)
        text += (f"ha: {{endpoints: [{endpoints}], node: {node}, lease_ttl: {self.lease_ttl}s, "
                 f"agreement: {self.agreement}}}\n")
        if node in self.hook_ports:
            text += f"""alerts:
  outbox: {work}/alerts.db
  group_window: 1s
  retry: {{initial: 200ms, max: 1s}}
  channels:
    - {{name: hook, kind: webhook, url: 'http://127.0.0.1:{self.hook_ports[node]}/hook', timeout: 2s}}
  routes:
    - {{channels: [hook], severity: warning}}
"""
        path = os.path.join(work, "pathpilot.yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    # --- alerts ---------------------------------------------------------------------------------

    def start_hook(self, node):
        """A webhook receiver for `node`'s alerts (each monitor has its own, so that who sent
        what is known); its config gets an `alerts:` section from now on."""
        port = nstest.free_port()
        self.hook_ports[node] = port
        return self.net.spawn(f"hook-{node}", self.box, [
            "/usr/bin/python3", "-c", nstest.JSON_POST_SINK, str(port),
            os.path.join(self.work, f"hook-{node}.jsonl")])

    def alerts(self, node, path=None, status=None):
        """The alerts `node` delivered, optionally only those about `path` with `status`."""
        got = nstest.read_jsonl(os.path.join(self.work, f"hook-{node}.jsonl"))
        return [a for a in got if (path is None or a.get("path") == path)
                and (status is None or a.get("status") == status)]

    # --- the AWS backend ---------------------------------------------------------------------

    def start_fake_aws(self, nodes):
        """pathpilot-fake-aws in the namespace with route table AWS_TABLE (10.10.0.0/16 via
        the VGW) and vpn-a's instance; one access key per node in `nodes`. Monitors started
        from now on use the AWS backend with their own key."""
        self.aws_keys = {n: (f"AKIDHALAB{n[-1].upper()}000000001", secrets.token_urlsafe(24))
                         for n in nodes}
        first, *rest = self.aws_keys.values()
        port = nstest.free_port()
        proc = self.net.spawn("fake-aws", self.box, [
            nstest.fake_aws_bin(), "--listen", f"127.0.0.1:{port}", "--access-key", first[0],
            *sum((["--key", f"{k}:{s}"] for k, s in rest), []),
            "--route-table", AWS_TABLE, "--route", f"{AWS_TABLE},10.10.0.0/16,{AWS_VGW}",
            "--instance", f"{AWS_INSTANCE},running,us-east-1a"],
            env={"PP_FAKE_AWS_SECRET_KEY": first[1]})
        nstest.wait_for(lambda: "listening on" in self.net.log("fake-aws") or
                        proc.poll() is not None, 10, "pathpilot-fake-aws listening")
        self.aws_url = f"http://127.0.0.1:{port}"
        self.table_id = AWS_TABLE
        return proc

    def aws_calls(self):
        """The fake's call log (action, route table, target, caller's access key, ...)."""
        out = self.net.sh(self.box, "curl", "-sf", f"{self.aws_url}/_fake/calls")
        return json.loads(out)["calls"]

    def aws_writes(self):
        """(seq, node, action, target) of every route write the fake accepted."""
        by_key = {k: n for n, (k, _) in self.aws_keys.items()}
        return [(c["seq"], by_key.get(c["caller"], c["caller"] or "?"), c["action"], c["target"])
                for c in self.aws_calls()
                if c["action"] in ("CreateRoute", "ReplaceRoute", "DeleteRoute")
                and c["outcome"] == "ok"]

    def socket(self, node):
        return os.path.join(self.work, node, "control.sock")

    def start(self, node, log=None, env=None):
        """Starts monitor `node`; `log` also names its own work directory (journal, socket);
        `env`: more environment variables."""
        env = dict(env or {})
        if node in self.aws_keys:
            key, secret = self.aws_keys[node]
            env.update({"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret})
        return self.net.spawn(log or node, self.box, [nstest.pathpilot_bin(), "run", "--config",
                                                    self.config(node, log)], env=env)

    def status(self, node):
        return nstest.daemon_status(self.socket(node))

    def wait_ha(self, node, proc, predicate, timeout, what):
        return nstest.wait_daemon_status(self.net, proc, self.socket(node),
                                         lambda s: "ha" in s and predicate(s), timeout, what,
                                         log=node)

    def wait_leader(self, node, proc, timeout=15):
        return self.wait_ha(node, proc, lambda s: s["ha"]["role"] == "leader"
                            and s["ha"]["writing"], timeout, f"{node} leading and writing")

    def wait_follower(self, node, proc, leader, timeout=15):
        return self.wait_ha(node, proc, lambda s: s["ha"]["role"] == "follower"
                            and s["ha"]["leader"] == leader, timeout,
                            f"{node} following {leader}")

    def start_pair(self):
        """mon-a leads with rtb-a on dx; mon-b follows."""
        a = self.start("mon-a")
        self.wait_leader("mon-a", a)
        nstest.wait_daemon_status(self.net, a, self.socket("mon-a"),
                                  lambda s: nstest.tables_at(s, {self.table_id: "dx"}), 20,
                                  f"{self.table_id} on dx", log="mon-a")
        b = self.start("mon-b")
        self.wait_follower("mon-b", b, "mon-a")
        # Steady state: the leader has read the follower's view with every path up (a view
        # that has not arrived yet counts as no other monitor: the leader would act alone).
        up = {"dx": "up", "vpn-a": "up"}
        self.wait_ha("mon-a", a, lambda s: s["ha"].get("views", {}).get("mon-b", {})
                     .get("paths") == up, 10, "mon-a reading mon-b's view")
        return a, b

    # --- the shared table and its writes ------------------------------------------------------

    def table(self):
        try:
            with open(os.path.join(self.work, "table-rtb-a")) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def table_on(self, path):
        """The table points at `path` and the write that put it there is in writes.log (the
        hook rewrites the table before it logs: reading only the table races the log)."""
        hop = {"dx": "via 10.255.0.2 dev v0", "vpn-a": "via 10.255.1.2 dev v0"}[path]
        if f"10.10.0.0/16 {hop}" not in self.table():
            return False
        writes = self.writes()
        return bool(writes) and writes[-1].path == path

    def writes(self):
        try:
            with open(os.path.join(self.work, "writes.log")) as f:
                return [Write(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def foreign_writes(self):
        """Writes made by a monitor that etcd did not name leader at that moment."""
        return [w for w in self.writes() if w.node != w.holder]

    def recoveries(self):
        """(time, node, attempt) of every recovery attempt of vpn-a."""
        try:
            with open(os.path.join(self.work, "recoveries.log")) as f:
                return [(float(t), n, int(a)) for t, n, a in (line.split() for line in f
                                                               if line.strip())]
        except FileNotFoundError:
            return []

    def fail_vpn(self, up=False):
        self.net.sh(self.box, "ip", "addr", "add" if up else "del", VPN_TARGET, "dev", "v1")

    def fail_dx(self):
        self.net.sh(self.box, "ip", "addr", "del", DX_TARGET, "dev", "v1")

    def heal_dx(self):
        self.net.sh(self.box, "ip", "addr", "add", DX_TARGET, "dev", "v1")

    def events(self, node, kind):
        return nstest.events_of(os.path.join(self.work, node, "events.jsonl"), kind)
