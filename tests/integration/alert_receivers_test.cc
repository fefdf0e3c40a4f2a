// Alerts delivered to real receivers on 127.0.0.1, started and stopped by this test (by PID):
//   - aiosmtpd (Debian python3-aiosmtpd) with its Maildir handler: the mail arrives, subject and
//     both MIME parts decode to what was sent; STARTTLS demanded from a server without it fails
//     clearly; a closed port is a retryable error; a relay demanding STARTTLS and AUTH
//     (tests/integration/alert_smtp_server.py, a self-signed certificate trusted via ca_file)
//     gets the mail, and a wrong password is a clear, permanent, non-secret error;
//   - Prometheus Alertmanager (Debian prometheus-alertmanager): the alert is listed active by
//     GET /api/v2/alerts, then the RESOLVED message ends it; an incident fired by one
//     AlertManager and healed after it was dropped (kill -9) and rebuilt on the same outbox is
//     resolved in Alertmanager too (same labels and startsAt);
//   - a cpp-httplib receiver playing Slack, DingTalk, Feishu, WeCom and a generic webhook: bodies
//     checked, DingTalk and Feishu signatures verified independently; a receiver that hangs
//     (timeout), answers 500, 429 + Retry-After, or garbage;
//   - the receiver down, the daemon restarted (outbox reopened) in between, then up: every
//     alert delivered exactly once, in order. Delivery latency (event accepted → receiver got
//     it) is measured and printed.
// Tests skip (GTEST_SKIP) when the receiver's package is not installed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "alert/alert_manager.h"
#include "alert/http_channels.h"
#include "alert/smtp_channel.h"
#include "http/curl_http_client.h"

extern char** environ;

namespace pathpilot::alert {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

int freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool portOpen(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// A child process started by the test and stopped (SIGTERM, then SIGKILL) by its PID.
class Process {
 public:
  explicit Process(const std::vector<std::string>& argv, const std::string& log) {
    std::vector<char*> args;
    for (const auto& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Process() {
    if (pid_ <= 0) {
      return;
    }
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 50; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        return;
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  bool started() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
};

bool waitFor(const std::function<bool()>& cond, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) {
      return true;
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  return cond();
}

fs::path tempDir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("pp_alert_it_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

Notification sampleNotification(const std::string& channel, const std::string& path = "dx") {
  Notification n;
  n.channel = channel;
  n.fingerprint = "Beijing/path/" + path;
  n.severity = journal::Severity::Critical;
  n.site = "Beijing";
  n.kind = "path_down";
  n.path = path;
  n.link = "dx";
  n.title = "[FIRING] Beijing: " + path + " down: 20 route tables moved dx to vpn-a";
  n.body = "reason: loss 100% over 10 probes\nroute tables: rtb-468f5222, rtb-4b8f522f\n北京";
  n.route_tables = {"rtb-468f5222"};
  n.starts_at = std::chrono::system_clock::now() - seconds(5);
  n.created_at = n.starts_at;
  return n;
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The base64 MIME part after the header line `content_type`, decoded.
std::string decodePart(const std::string& mail, const std::string& content_type) {
  std::size_t p = mail.find(content_type);
  if (p == std::string::npos) {
    return "";
  }
  std::size_t start = mail.find("\n\n", p);
  std::size_t start_crlf = mail.find("\r\n\r\n", p);
  start = std::min(start == std::string::npos ? mail.size() : start + 2,
                   start_crlf == std::string::npos ? mail.size() : start_crlf + 4);
  std::size_t end = mail.find("--", start);
  std::string b64;
  for (char c : mail.substr(start, end - start)) {
    if (c != '\r' && c != '\n') {
      b64 += c;
    }
  }
  return base64Decode(b64).value_or("<bad base64>");
}

// --- SMTP ---------------------------------------------------------------------------------------

TEST(AlertReceiversTest, SmtpMailArrivesAtAiosmtpd) {
  if (::system("/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null") != 0) {
    GTEST_SKIP() << "python3-aiosmtpd not installed (tools/deps.sh)";
  }
  fs::path dir = tempDir("smtp");
  int port = freePort();
  Process smtpd({"/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l",
                 "127.0.0.1:" + std::to_string(port), "-c", "aiosmtpd.handlers.Mailbox",
                 (dir / "maildir").string()},
                (dir / "smtpd.log").string());
  ASSERT_TRUE(smtpd.started());
  ASSERT_TRUE(waitFor([&] { return portOpen(port); }, seconds(15))) << readFile(dir / "smtpd.log");

  RealClock clock;
  SmtpOptions o{"mail", "smtp://127.0.0.1:" + std::to_string(port), false, "", "",
                "pathpilot@example.com", {"noc@example.com", "oncall@example.com"}, true, seconds(5), ""};
  SmtpChannel ch(o, clock);
  Notification n = sampleNotification("mail");
  auto r = ch.deliver(n);
  ASSERT_TRUE(r) << r.error().error.toString();
  EXPECT_NE(r->find("2 recipient(s)"), std::string::npos);

  fs::path box = dir / "maildir" / "new";
  ASSERT_TRUE(waitFor([&] { return fs::exists(box) && !fs::is_empty(box); }, seconds(5)));
  std::string mail = readFile(fs::directory_iterator(box)->path());
  EXPECT_NE(mail.find("Subject: " + n.title), std::string::npos) << mail.substr(0, 600);
  EXPECT_NE(mail.find("X-RcptTo: noc@example.com, oncall@example.com"), std::string::npos);
  EXPECT_NE(mail.find("X-Pathpilot-Incident: Beijing/path/dx"), std::string::npos);
  std::string text = decodePart(mail, "Content-Type: text/plain; charset=utf-8");
  EXPECT_NE(text.find("reason: loss 100% over 10 probes"), std::string::npos) << text;
  EXPECT_NE(text.find("北京"), std::string::npos);
  std::string html = decodePart(mail, "Content-Type: text/html; charset=utf-8");
  EXPECT_NE(html.find("<h3"), std::string::npos) << html;

  // STARTTLS required but not offered: a clear, permanent error.
  SmtpOptions tls = o;
  tls.starttls = true;
  SmtpChannel tls_ch(tls, clock);
  auto tr = tls_ch.deliver(n);
  ASSERT_FALSE(tr);
  EXPECT_FALSE(tr.error().error.retryable()) << tr.error().error.toString();

  // Invalid recipient syntax refused by the server (5xx): permanent.
  SmtpOptions bad = o;
  bad.to = {"no-at-sign"};
  SmtpChannel bad_ch(bad, clock);
  auto br = bad_ch.deliver(n);
  if (!br) {
    EXPECT_FALSE(br.error().error.retryable()) << br.error().error.toString();
  }
}

// A relay like a corporate submission server: STARTTLS demanded, AUTH LOGIN/PLAIN required,
// a self-signed certificate (generated here with the openssl CLI) trusted through ca_file.
// The channel is built from its config entry (makeChannel), with the password read from a
// file, as the daemon does.
TEST(AlertReceiversTest, SmtpStartTlsAndAuthWithPrivateCa) {
  if (::system("/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null") != 0 ||
      !fs::exists("/usr/bin/openssl")) {
    GTEST_SKIP() << "python3-aiosmtpd or openssl not installed (tools/deps.sh)";
  }
  fs::path dir = tempDir("smtp_tls");
  std::string cert = (dir / "cert.pem").string();
  std::string key = (dir / "key.pem").string();
  std::string gen = "/usr/bin/openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
                    "-nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
                    "-keyout " + key + " -out " + cert + " 2>" + (dir / "openssl.log").string();
  ASSERT_EQ(::system(gen.c_str()), 0) << readFile(dir / "openssl.log");
  const std::string password = "s3cret-Relay-Passw0rd";
  fs::path pass_file = dir / "smtp.pass";
  {
    std::ofstream out(pass_file);
    out << password << "\n";
  }
  fs::permissions(pass_file, fs::perms::owner_read | fs::perms::owner_write);
  int port = freePort();
  Process smtpd({"/usr/bin/python3", PP_SOURCE_DIR "/tests/integration/alert_smtp_server.py",
                 "--port", std::to_string(port), "--cert", cert, "--key", key, "--user",
                 "pathpilot", "--password-file", pass_file.string(), "--out",
                 (dir / "mail").string()},
                (dir / "smtpd.log").string());
  ASSERT_TRUE(smtpd.started());
  ASSERT_TRUE(waitFor([&] { return portOpen(port); }, seconds(15))) << readFile(dir / "smtpd.log");

  RealClock clock;
  config::AlertChannelConfig c;
  c.name = "relay";
  c.kind = config::AlertChannelKind::Smtp;
  c.url = config::SecretRef{config::SecretRef::Source::Inline,
                            "smtp://127.0.0.1:" + std::to_string(port)};
  c.starttls = true;
  c.username = "pathpilot";
  c.password = config::SecretRef{config::SecretRef::Source::File, pass_file.string()};
  c.from = "pathpilot@example.com";
  c.to = {"noc@example.com"};
  c.ca_file = cert;
  c.timeout = seconds(5);
  auto ch = makeChannel(c, clock, http::curlClients(), processEnv());
  ASSERT_TRUE(ch) << ch.error().toString();
  Notification n = sampleNotification("relay");
  auto r = (*ch)->deliver(n);
  ASSERT_TRUE(r) << r.error().error.toString() << "\n" << readFile(dir / "smtpd.log");

  fs::path first = dir / "mail" / "1.eml";
  ASSERT_TRUE(waitFor([&] { return fs::exists(first); }, seconds(5)));
  std::string mail = readFile(first);
  EXPECT_NE(mail.find("X-Auth-Login: pathpilot"), std::string::npos) << mail.substr(0, 300);
  EXPECT_NE(mail.find("X-Peer-TLS: yes"), std::string::npos) << mail.substr(0, 300);
  EXPECT_NE(mail.find("Subject: " + n.title), std::string::npos) << mail.substr(0, 600);
  EXPECT_NE(readFile(dir / "mail" / "auth.log").find("pathpilot ok"), std::string::npos);

  // A wrong password (here from the environment): refused by the server, a clear permanent
  // error that names the relay and not the password.
  const std::string wrong = "wrong-Passw0rd-value";
  config::AlertChannelConfig bad = c;
  bad.password = config::SecretRef{config::SecretRef::Source::Env, "PP_TEST_SMTP_PASSWORD"};
  auto env = [&](std::string_view name) -> std::optional<std::string> {
    if (name == "PP_TEST_SMTP_PASSWORD") {
      return wrong;
    }
    return std::nullopt;
  };
  auto bad_ch = makeChannel(bad, clock, http::curlClients(), env);
  ASSERT_TRUE(bad_ch) << bad_ch.error().toString();
  auto denied = (*bad_ch)->deliver(n);
  ASSERT_FALSE(denied);
  const Error& e = denied.error().error;
  EXPECT_EQ(e.code(), ErrorCode::PermissionDenied) << e.toString();
  EXPECT_FALSE(e.retryable());
  EXPECT_NE(e.message().find("smtp channel relay (smtp://127.0.0.1:"), std::string::npos)
      << e.message();
  EXPECT_EQ(e.message().find(wrong), std::string::npos) << e.message();
  EXPECT_EQ(e.message().find(password), std::string::npos) << e.message();
  std::printf("[smtp] wrong password reported as: %s\n", e.toString().c_str());
  EXPECT_NE(readFile(dir / "mail" / "auth.log").find("pathpilot refused"), std::string::npos);

  // Without ca_file the self-signed certificate is not trusted: verification stays on.
  config::AlertChannelConfig no_ca = c;
  no_ca.ca_file.clear();
  auto untrusted = (*makeChannel(no_ca, clock, http::curlClients(), processEnv()))->deliver(n);
  ASSERT_FALSE(untrusted);
  std::printf("[smtp] without ca_file: %s\n", untrusted.error().error.toString().c_str());
  // A ca_file that does not exist is refused when the channel is built (start or reload).
  config::AlertChannelConfig missing = c;
  missing.ca_file = (dir / "nope.pem").string();
  auto m = makeChannel(missing, clock, http::curlClients(), processEnv());
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message().find("ca_file"), std::string::npos) << m.error().toString();
  // Exactly the one good message arrived.
  EXPECT_FALSE(fs::exists(dir / "mail" / "2.eml"));
}

TEST(AlertReceiversTest, SmtpServerDownIsRetryable) {
  RealClock clock;
  SmtpOptions o{"mail", "smtp://127.0.0.1:" + std::to_string(freePort()), false, "pp",
                "hunter2secret", "pathpilot@example.com", {"noc@example.com"}, false, seconds(2), ""};
  SmtpChannel ch(o, clock);
  auto r = ch.deliver(sampleNotification("mail"));
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().error.retryable()) << r.error().error.toString();
  EXPECT_EQ(r.error().error.message().find("hunter2secret"), std::string::npos);
}

// --- Alertmanager -------------------------------------------------------------------------------

// A Prometheus Alertmanager on 127.0.0.1 (a free port) with a do-nothing receiver, its config,
// data and log in `dir`; stopped by PID when this goes out of scope.
struct LocalAlertmanager {
  explicit LocalAlertmanager(fs::path d)
      : dir(std::move(d)),
        port(freePort()),
        base("http://127.0.0.1:" + std::to_string(port)),
        process(start(dir, port)) {}

  // True once the process runs and answers /-/ready (startup takes seconds on a loaded box).
  bool waitReady() {
    return process->started() && waitFor(
                                     [&] {
                                       auto r = get("/-/ready");
                                       return r && r->status == 200;
                                     },
                                     seconds(30));
  }
  Result<http::Response> get(const std::string& path) {
    http::Request r;
    r.url = base + path;
    r.timeout = seconds(3);
    return client.send(r);
  }
  std::string log() const { return readFile(dir / "am.log"); }

  // Writes the config, then starts the process (members are initialised in this order).
  static std::unique_ptr<Process> start(const fs::path& dir, int port) {
    {
      std::ofstream cfg(dir / "am.yml");
      cfg << "route:\n  receiver: devnull\n  group_wait: 1s\nreceivers:\n  - name: devnull\n";
    }
    return std::make_unique<Process>(
        std::vector<std::string>{"/usr/bin/prometheus-alertmanager",
                                 "--config.file=" + (dir / "am.yml").string(),
                                 "--storage.path=" + (dir / "data").string(),
                                 "--web.listen-address=127.0.0.1:" + std::to_string(port),
                                 "--cluster.listen-address="},
        (dir / "am.log").string());
  }

  const fs::path dir;
  const int port;
  const std::string base;  // http://127.0.0.1:<port>
  std::unique_ptr<Process> process;
  http::CurlHttpClient client;
};

TEST(AlertReceiversTest, AlertmanagerListsThenResolves) {
  if (!fs::exists("/usr/bin/prometheus-alertmanager")) {
    GTEST_SKIP() << "prometheus-alertmanager not installed (tools/deps.sh)";
  }
  LocalAlertmanager am(tempDir("am"));
  ASSERT_TRUE(am.waitReady()) << am.log();

  RealClock clock;
  HttpChannel ch({"am", config::AlertChannelKind::Alertmanager, am.base, "", "", seconds(5), ""},
                 std::make_unique<http::CurlHttpClient>(), clock);
  Notification firing = sampleNotification("am");
  auto r = ch.deliver(firing);
  ASSERT_TRUE(r) << r.error().error.toString();

  auto find = [&]() -> std::optional<json> {
    auto resp = am.get("/api/v2/alerts");
    if (!resp || resp->status != 200) {
      return std::nullopt;
    }
    for (const auto& a : json::parse(resp->body)) {
      if (a["labels"].value("incident", "") == "Beijing/path/dx") {
        return a;
      }
    }
    return std::nullopt;
  };
  std::optional<json> listed;
  ASSERT_TRUE(waitFor([&] { return (listed = find()).has_value(); }, seconds(10)));
  EXPECT_EQ((*listed)["status"]["state"], "active");
  EXPECT_EQ((*listed)["labels"]["site"], "Beijing");
  EXPECT_EQ((*listed)["labels"]["alertname"], "PathpilotIncident");
  EXPECT_EQ((*listed)["annotations"]["summary"], firing.title);

  Notification resolved = firing;
  resolved.status = AlertStatus::Resolved;
  resolved.ends_at = std::chrono::system_clock::now() - seconds(1);
  r = ch.deliver(resolved);
  ASSERT_TRUE(r) << r.error().error.toString();
  // Resolved alerts leave the active list (Alertmanager only lists unresolved ones).
  EXPECT_TRUE(waitFor(
      [&] {
        auto a = find();
        return !a || (*a)["status"]["state"] != "active";
      },
      seconds(10)));
}

// Fired by one AlertManager, which then dies without a word (kill -9: destroyed unstarted);
// a new one on the same outbox file sees the path heal. Alertmanager must end the alert it
// holds: the RESOLVED carries the same labels and startsAt.
TEST(AlertReceiversTest, AlertmanagerResolvesAnIncidentFiredBeforeARestart) {
  if (!fs::exists("/usr/bin/prometheus-alertmanager")) {
    GTEST_SKIP() << "prometheus-alertmanager not installed (tools/deps.sh)";
  }
  LocalAlertmanager am(tempDir("am_restart"));
  ASSERT_TRUE(am.waitReady()) << am.log();
  // Every alert Alertmanager lists for the incident (active ones only: resolved leave).
  auto listed = [&]() {
    std::vector<json> out;
    auto resp = am.get("/api/v2/alerts");
    if (resp && resp->status == 200) {
      for (const auto& a : json::parse(resp->body)) {
        if (a["labels"].value("incident", "") == "Beijing/path/dx") {
          out.push_back(a);
        }
      }
    }
    return out;
  };

  config::AlertSettings s;
  s.outbox = (am.dir / "alerts.db").string();
  s.group_window = Duration::zero();
  config::AlertChannelConfig c;
  c.name = "am";
  c.kind = config::AlertChannelKind::Alertmanager;
  s.channels.push_back(c);
  RealClock clock;
  auto open = [&] {
    auto box = Outbox::open(s.outbox);
    EXPECT_TRUE(box);
    std::vector<std::unique_ptr<Channel>> channels;
    channels.push_back(std::make_unique<HttpChannel>(
        HttpChannelOptions{"am", config::AlertChannelKind::Alertmanager, am.base, "", "",
                           seconds(5), ""},
        std::make_unique<http::CurlHttpClient>(), clock));
    return std::make_unique<AlertManager>(s, "Beijing", std::move(channels), std::move(*box),
                                          clock, nullptr);
  };
  auto path_event = [&](journal::EventKind kind) {
    auto e = journal::makeEvent(kind, clock.wallNow(), "Beijing");
    e.path = "dx";
    e.link = journal::Link::Dx;
    return e;
  };

  auto manager = open();
  manager->submit(path_event(journal::EventKind::PathDown));
  ASSERT_EQ(manager->pump(), 1u);
  std::vector<json> active;
  ASSERT_TRUE(waitFor([&] { return !(active = listed()).empty(); }, seconds(10)));
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(active[0]["status"]["state"], "active");
  manager.reset();  // "kill -9": never started, nothing flushed

  manager = open();
  manager->submit(path_event(journal::EventKind::PathUp));
  ASSERT_EQ(manager->pump(), 1u);
  // The alert fired before the restart is no longer active: Alertmanager matched the
  // RESOLVED to it (different labels would have left it active until its endsAt, 24 h).
  EXPECT_TRUE(waitFor([&] { return listed().empty(); }, seconds(10)))
      << "still active: " << json(listed()).dump();
  EXPECT_EQ(manager->outboxDepth(), 0u);
  std::printf("[am-restart] incident fired before the restart (startsAt %s) resolved in "
              "Alertmanager after it\n",
              active[0].value("startsAt", "").c_str());
}

// --- chat webhooks on a local receiver ------------------------------------------------------------

struct Receiver {
  httplib::Server server;
  int port = 0;
  std::thread thread;
  std::mutex mu;
  std::vector<std::pair<std::string, json>> got;  // path, body
  std::vector<std::string> query_errors;
  std::atomic<int> mode{0};  // 0 ok, 1 = 503 (down)
  std::vector<std::chrono::steady_clock::time_point> arrivals;

  Receiver() {
    auto record = [this](const httplib::Request& req, httplib::Response& res) {
      if (mode.load() == 1) {
        res.status = 503;
        res.set_content("down for maintenance", "text/plain");
        return;
      }
      std::lock_guard lock(mu);
      got.emplace_back(req.path, json::parse(req.body, nullptr, false));
      arrivals.push_back(std::chrono::steady_clock::now());
    };
    server.Post("/dingtalk", [this, record](const httplib::Request& req, httplib::Response& res) {
      std::string ts = req.get_param_value("timestamp");
      std::string sign = req.get_param_value("sign");  // httplib URL-decodes it
      if (req.get_param_value("access_token") != "tok" ||
          sign != dingtalkSign("SECding", std::stoll(ts.empty() ? "0" : ts))) {
        std::lock_guard lock(mu);
        query_errors.push_back("dingtalk signature mismatch: " + sign);
        res.set_content(R"({"errcode":310000,"errmsg":"sign not match"})", "application/json");
        return;
      }
      record(req, res);
      res.set_content(R"({"errcode":0,"errmsg":"ok"})", "application/json");
    });
    server.Post("/feishu", [this, record](const httplib::Request& req, httplib::Response& res) {
      auto body = json::parse(req.body, nullptr, false);
      std::string ts = body.value("timestamp", "0");
      if (body.value("sign", "") != feishuSign("fsSecret", std::stoll(ts))) {
        std::lock_guard lock(mu);
        query_errors.push_back("feishu signature mismatch");
        res.set_content(R"({"code":19021,"msg":"sign match fail"})", "application/json");
        return;
      }
      record(req, res);
      res.set_content(R"({"code":0,"msg":"success"})", "application/json");
    });
    server.Post("/wecom", [record](const httplib::Request& req, httplib::Response& res) {
      record(req, res);
      res.set_content(R"({"errcode":0,"errmsg":"ok"})", "application/json");
    });
    server.Post("/slack", [record](const httplib::Request& req, httplib::Response& res) {
      record(req, res);
      res.set_content("ok", "text/plain");
    });
    server.Post("/hook", [this, record](const httplib::Request& req, httplib::Response& res) {
      record(req, res);
      if (mode.load() != 1) {
        res.status = 204;
      }
    });
    server.Post("/hang", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(seconds(3));
      res.status = 200;
    });
    server.Post("/e500", [](const httplib::Request&, httplib::Response& res) {
      res.status = 500;
      res.set_content("internal", "text/plain");
    });
    server.Post("/e429", [](const httplib::Request&, httplib::Response& res) {
      res.status = 429;
      res.set_header("Retry-After", "7");
    });
    server.Post("/garbage", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("\x01\x02<html>not json", "text/html");
    });
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
    waitFor([this] { return server.is_running(); }, seconds(5));
  }
  ~Receiver() {
    server.stop();
    thread.join();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port) + path;
  }
  std::size_t count() {
    std::lock_guard lock(mu);
    return got.size();
  }
};

std::unique_ptr<HttpChannel> channelTo(const Receiver& rx, const std::string& name,
                                       config::AlertChannelKind kind, const std::string& path,
                                       const std::string& secret = "",
                                       Duration timeout = seconds(5)) {
  static RealClock clock;
  return std::make_unique<HttpChannel>(
      HttpChannelOptions{name, kind, rx.url(path), secret, "", timeout, ""},
      std::make_unique<http::CurlHttpClient>(), clock);
}

TEST(AlertReceiversTest, ChatWebhooksBodiesAndSignatures) {
  Receiver rx;
  using K = config::AlertChannelKind;
  Notification n = sampleNotification("x");
  ASSERT_TRUE(channelTo(rx, "d", K::DingTalk, "/dingtalk?access_token=tok", "SECding")->deliver(n));
  ASSERT_TRUE(channelTo(rx, "f", K::Feishu, "/feishu", "fsSecret")->deliver(n));
  ASSERT_TRUE(channelTo(rx, "w", K::WeCom, "/wecom")->deliver(n));
  ASSERT_TRUE(channelTo(rx, "s", K::Slack, "/slack")->deliver(n));
  ASSERT_TRUE(channelTo(rx, "h", K::Webhook, "/hook")->deliver(n));
  // A wrong signing secret is refused by the receiver: permanent, and the secret is not shown.
  auto r = channelTo(rx, "d2", K::DingTalk, "/dingtalk?access_token=tok", "WRONGsecret")->deliver(n);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().error.code(), ErrorCode::PermissionDenied);
  EXPECT_EQ(r.error().error.message().find("WRONGsecret"), std::string::npos);

  std::lock_guard lock(rx.mu);
  ASSERT_EQ(rx.query_errors.size(), 1u);  // only the wrong-secret attempt
  ASSERT_EQ(rx.got.size(), 5u);
  EXPECT_EQ(rx.got[0].second["text"]["content"].get<std::string>().rfind(n.title, 0), 0u);
  EXPECT_EQ(rx.got[1].second["content"]["text"].get<std::string>().rfind(n.title, 0), 0u);
  EXPECT_EQ(rx.got[2].second["msgtype"], "text");
  EXPECT_NE(rx.got[3].second["text"].get<std::string>().find("北京"), std::string::npos);
  EXPECT_EQ(rx.got[4].second["fingerprint"], "Beijing/path/dx");
  EXPECT_EQ(rx.got[4].second["route_tables"][0], "rtb-468f5222");
}

TEST(AlertReceiversTest, HangingBrokenAndThrottlingReceivers) {
  Receiver rx;
  using K = config::AlertChannelKind;
  Notification n = sampleNotification("x");
  auto start = std::chrono::steady_clock::now();
  auto hang = channelTo(rx, "h", K::Webhook, "/hang", "", seconds(1))->deliver(n);
  ASSERT_FALSE(hang);
  EXPECT_EQ(hang.error().error.code(), ErrorCode::Timeout);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(3));
  auto e500 = channelTo(rx, "h", K::Webhook, "/e500")->deliver(n);
  ASSERT_FALSE(e500);
  EXPECT_TRUE(e500.error().error.retryable());
  auto e429 = channelTo(rx, "h", K::Slack, "/e429")->deliver(n);
  ASSERT_FALSE(e429);
  EXPECT_EQ(e429.error().error.code(), ErrorCode::Throttled);
  EXPECT_EQ(e429.error().retry_after, seconds(7));
  auto garbage = channelTo(rx, "h", K::DingTalk, "/garbage")->deliver(n);
  ASSERT_FALSE(garbage);
  EXPECT_TRUE(garbage.error().error.retryable());
  auto refused = channelTo(rx, "h", K::Webhook, "/hook")->deliver(n);
  ASSERT_TRUE(refused);
  RealClock clock;
  HttpChannel closed({"c", K::Webhook, "http://127.0.0.1:" + std::to_string(freePort()) + "/x",
                      "", "", seconds(2), ""},
                     std::make_unique<http::CurlHttpClient>(), clock);
  auto down = closed.deliver(n);
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().error.code(), ErrorCode::Unavailable);
}

// --- outage, restart, order, latency -------------------------------------------------------------

config::AlertSettings fastSettings(const fs::path& dir) {
  config::AlertSettings s;
  s.outbox = (dir / "alerts.db").string();
  s.group_window = Duration::zero();
  s.retry_initial = milliseconds(100);
  s.retry_max = milliseconds(400);
  config::AlertChannelConfig c;
  c.name = "hook";
  c.kind = config::AlertChannelKind::Webhook;
  c.rate.per_minute = 6000;
  c.rate.burst = 100;
  s.channels.push_back(c);
  return s;
}

std::unique_ptr<AlertManager> openManager(const config::AlertSettings& s, const Receiver& rx,
                                          const Clock& clock, std::vector<journal::Event>& out,
                                          std::mutex& mu) {
  auto box = Outbox::open(s.outbox);
  EXPECT_TRUE(box);
  std::vector<std::unique_ptr<Channel>> channels;
  channels.push_back(channelTo(rx, "hook", config::AlertChannelKind::Webhook, "/hook"));
  return std::make_unique<AlertManager>(s, "Beijing", std::move(channels), std::move(*box), clock,
                                        [&out, &mu](journal::Event e) {
                                          std::lock_guard lock(mu);
                                          out.push_back(std::move(e));
                                        });
}

TEST(AlertReceiversTest, OutageAndRestartLoseNothingAndKeepOrder) {
  fs::path dir = tempDir("outage");
  Receiver rx;
  RealClock clock;
  auto settings = fastSettings(dir);
  std::vector<journal::Event> emitted;
  std::mutex mu;
  constexpr int kAlerts = 8;

  rx.mode = 1;  // the receiver is down
  auto manager = openManager(settings, rx, clock, emitted, mu);
  manager->start();
  for (int i = 0; i < kAlerts; ++i) {
    auto e = journal::makeEvent(journal::EventKind::PathDown, clock.wallNow(), "Beijing");
    e.path = "p" + std::to_string(i);
    manager->submit(e);
  }
  ASSERT_TRUE(waitFor([&] { return manager->outboxDepth() == kAlerts; }, seconds(10)));
  std::this_thread::sleep_for(milliseconds(600));  // a few failed attempts
  manager->stop(milliseconds(100));                // the daemon stops mid-outage
  std::size_t depth_at_restart = manager->outboxDepth();
  manager.reset();
  EXPECT_EQ(depth_at_restart, static_cast<std::size_t>(kAlerts));

  // Restart: a new manager on the same outbox file; the receiver comes back.
  manager = openManager(settings, rx, clock, emitted, mu);
  EXPECT_EQ(manager->outboxDepth(), static_cast<std::size_t>(kAlerts));
  rx.mode = 0;
  manager->start();
  ASSERT_TRUE(waitFor([&] { return manager->outboxDepth() == 0; }, seconds(20)));
  manager->stop(seconds(1));

  std::lock_guard lock(rx.mu);
  ASSERT_EQ(rx.got.size(), static_cast<std::size_t>(kAlerts));  // exactly once
  for (int i = 0; i < kAlerts; ++i) {
    EXPECT_EQ(rx.got[static_cast<std::size_t>(i)].second["path"], "p" + std::to_string(i));
  }
  std::lock_guard elock(mu);
  std::size_t sent = 0;
  for (const auto& e : emitted) {
    sent += e.kind == journal::EventKind::AlertSent ? 1 : 0;
    EXPECT_NE(e.kind, journal::EventKind::AlertFailed);
  }
  EXPECT_EQ(sent, static_cast<std::size_t>(kAlerts));
  std::printf("[outage] %d alerts: outbox depth %zu across the restart, %zu delivered after, in "
              "order, no duplicates\n",
              kAlerts, depth_at_restart, rx.got.size());
}

TEST(AlertReceiversTest, DeliveryLatencyFromEventToReceiver) {
  fs::path dir = tempDir("latency");
  Receiver rx;
  RealClock clock;
  auto settings = fastSettings(dir);
  std::vector<journal::Event> emitted;
  std::mutex mu;
  auto manager = openManager(settings, rx, clock, emitted, mu);
  manager->start();
  constexpr int kRounds = 20;
  std::vector<double> ms;
  for (int i = 0; i < kRounds; ++i) {
    auto e = journal::makeEvent(journal::EventKind::PathDown, clock.wallNow(), "Beijing");
    e.path = "lat" + std::to_string(i);
    auto t0 = std::chrono::steady_clock::now();
    manager->submit(e);
    ASSERT_TRUE(waitFor([&] { return rx.count() == static_cast<std::size_t>(i + 1); }, seconds(5)));
    std::lock_guard lock(rx.mu);
    ms.push_back(std::chrono::duration<double, std::milli>(rx.arrivals.back() - t0).count());
  }
  manager->stop(seconds(1));
  std::sort(ms.begin(), ms.end());
  std::printf("[latency] event accepted -> receiver got it (group_window 0, SQLite WAL "
              "synchronous=FULL): p50 %.2f ms, p95 %.2f ms, max %.2f ms over %d alerts\n",
              ms[ms.size() / 2], ms[ms.size() * 95 / 100], ms.back(), kRounds);
  EXPECT_LT(ms[ms.size() / 2], 1000.0);
}

}  // namespace
}  // namespace pathpilot::alert
