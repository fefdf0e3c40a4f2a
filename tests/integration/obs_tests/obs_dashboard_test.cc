// The dashboard in a real headless Chromium, driven through chromedriver (WebDriver).
//
// A real ApiServer serves a scripted snapshot source and an in-memory journal. The test loads
// the page, checks that every path and route table is shown, that the page updates by itself
// when a path goes down (polling, no reload), that the event search filters, and that the
// browser logged no error (console errors, failed loads, CSP violations). A screenshot is kept
// in the build directory as obs-dashboard.png.
#include <httplib.h>
#include <openssl/evp.h>

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/server.h"
#include "api/snapshot_builder.h"
#include "fakes/memory_event_log.h"
#include "obs_tests/process.h"
#include "unit/api/sample_status.h"

namespace pathpilot::api {
namespace {

using nlohmann::json;
using obs_testing::Process;
using obs_testing::TempDir;

// The few WebDriver commands the test needs (W3C protocol, plus chromedriver's log endpoint).
class WebDriver {
 public:
  WebDriver(int port, const std::string& user_data_dir) : http_("127.0.0.1", port) {
    http_.set_read_timeout(60, 0);
    json caps = {
        {"capabilities",
         {{"alwaysMatch",
           {{"goog:chromeOptions",
             {{"binary", "/usr/bin/chromium"},
              {"args",
               {"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1400,1000",
                "--user-data-dir=" + user_data_dir}}}},
            {"goog:loggingPrefs", {{"browser", "ALL"}}}}}}}};
    auto r = http_.Post("/session", caps.dump(), "application/json");
    if (r && r->status == 200) {
      session_ = json::parse(r->body)["value"]["sessionId"];
    } else {
      error_ = r ? r->body : "no answer from chromedriver";
    }
  }
  ~WebDriver() {
    if (!session_.empty()) {
      http_.Delete(("/session/" + session_).c_str());
    }
  }
  bool ok() const { return !session_.empty(); }
  const std::string& error() const { return error_; }

  json command(const std::string& path, const json& body) {
    auto r = http_.Post(("/session/" + session_ + path).c_str(), body.dump(), "application/json");
    if (!r) {
      return json{{"error", "no answer"}};
    }
    return json::parse(r->body)["value"];
  }
  void navigate(const std::string& url) { command("/url", {{"url", url}}); }
  json execute(const std::string& script) {
    return command("/execute/sync", {{"script", script}, {"args", json::array()}});
  }
  // Polls `script` (returning a boolean) until it is true or `timeout` passes.
  bool waitUntil(const std::string& script, std::chrono::milliseconds timeout) {
    return obs_testing::waitFor([&] { return execute(script) == true; }, timeout,
                                std::chrono::milliseconds(100));
  }
  std::string screenshotPng() {
    auto r = http_.Get(("/session/" + session_ + "/screenshot").c_str());
    if (!r) {
      return "";
    }
    std::string b64 = json::parse(r->body)["value"];
    std::string out(b64.size(), '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(b64.data()),
                            static_cast<int>(b64.size()));
    if (n < 0) {
      return "";
    }
    while (!b64.empty() && b64.back() == '=') {  // EVP_DecodeBlock counts padding as zeros
      b64.pop_back();
      --n;
    }
    out.resize(static_cast<std::size_t>(n));
    return out;
  }
  json browserLog() { return command("/se/log", {{"type", "browser"}}); }

 private:
  httplib::Client http_;
  std::string session_;
  std::string error_;
};

class ObsDashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!obs_testing::haveProgram("chromedriver") || !obs_testing::haveProgram("chromium")) {
      GTEST_SKIP() << "chromium/chromium-driver not installed (tools/deps.sh)";
    }
    auto e1 = journal::makeEvent(journal::EventKind::DaemonStarted, clock_.wallNow(), "Singapore");
    e1.message = "pathpilot started with 2 paths and 2 route tables";
    events_.append(e1);
    auto e2 = journal::makeEvent(journal::EventKind::RouteChanged, clock_.wallNow(), "Singapore");
    e2.route_table = "rtb-4b8f522f";
    e2.destination = "10.10.0.0/16";
    e2.path = "vpn-a";
    e2.link = journal::Link::Vpn;
    e2.from = "dx";
    e2.to = "vpn-a";
    e2.message = "rtb-4b8f522f 10.10.0.0/16: dx → vpn-a <script>alert(1)</script>";
    events_.append(e2);
  }

  void publish(const std::string& dx_state) {
    for (int i = 0; i < 20; ++i) {
      builder_.onProbe("dx", dx_state == "up" || i % 2 == 0, std::chrono::microseconds(900 + 40 * i),
                       clock_.now());
      builder_.onProbe("vpn-a", true, std::chrono::milliseconds(11 + i % 4), clock_.now());
    }
    SnapshotInputs in;
    in.status = testing::sampleStatus(dx_state);
    store_.publish(builder_.build(std::move(in), clock_.now(), clock_.wallNow()));
  }

  RealClock clock_;
  SnapshotStore store_;
  // 1 s history buckets so that the sparklines fill within the test.
  SnapshotBuilder builder_{clock_.now(), clock_.wallNow(),
                           metrics::PathRecorderOptions{std::chrono::seconds(1), 120}};
  journal::MemoryEventLog events_{&clock_};
};

TEST_F(ObsDashboardTest, ShowsPathsRoutesEventsAndUpdatesWhenAPathGoesDown) {
  publish("up");
  ApiOptions options;
  options.port = 0;
  options.read_limit = {0, 1};
  ApiServer server(options, store_, clock_, &events_, nullptr);
  ASSERT_TRUE(server.start());
  std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/";

  TempDir dir;
  int port = obs_testing::freePort();
  Process driver({"chromedriver", "--port=" + std::to_string(port)}, dir.file("chromedriver.log"));
  ASSERT_TRUE(obs_testing::waitFor(
      [&] {
        httplib::Client c("127.0.0.1", port);
        auto r = c.Get("/status");
        return r && r->status == 200;
      },
      std::chrono::seconds(15)))
      << driver.log();
  WebDriver web(port, dir.file("profile"));
  ASSERT_TRUE(web.ok()) << web.error() << driver.log();

  web.navigate(url);
  ASSERT_TRUE(web.waitUntil(
      "return document.querySelectorAll('#paths tbody tr[data-path]').length === 2;",
      std::chrono::seconds(20)))
      << web.execute("return document.body.innerText;");
  EXPECT_EQ(web.execute("return document.getElementById('site').textContent;"), "Singapore");
  EXPECT_EQ(web.execute("return document.querySelector('#paths tr[data-path=\"dx\"]').dataset.state;"),
            "up");
  EXPECT_EQ(web.execute("return document.querySelector('#paths tr[data-path=\"vpn-a\"]').dataset.drained;"),
            "true");
  EXPECT_EQ(web.execute("return document.querySelectorAll('#routes tbody tr[data-route-table]').length;"),
            2);
  EXPECT_EQ(web.execute("return document.querySelector('#routes tr[data-route-table=\"rtb-4b8f522f\"]')"
                        ".innerText.includes('42 s');"),
            true);  // hold-down remaining
  EXPECT_EQ(web.execute("return document.querySelector('#routes tr[data-route-table=\"rtb-4b8f522f\"]')"
                        ".dataset.current;"),
            "vpn-a");
  ASSERT_TRUE(web.waitUntil(
      "return document.querySelectorAll('#events tbody tr[data-kind]').length === 2;",
      std::chrono::seconds(10)));
  // Event text is shown as text, never as markup.
  EXPECT_EQ(web.execute("return document.querySelectorAll('#events script').length;"), 0);
  EXPECT_EQ(web.execute("return document.querySelector('#events tr[data-kind=\"route_changed\"]')"
                        ".innerText.includes('<script>alert(1)</script>');"),
            true);

  // dx goes down: the page shows it by itself (polling), and the new event appears.
  auto down = journal::makeEvent(journal::EventKind::PathDown, clock_.wallNow(), "Singapore");
  down.path = "dx";
  down.link = journal::Link::Dx;
  down.from = "up";
  down.to = "down";
  down.message = "path dx is down (was up)";
  down.reason = "probe error: timeout";
  events_.append(down);
  publish("down");
  EXPECT_TRUE(web.waitUntil(
      "return document.querySelector('#paths tr[data-path=\"dx\"]').dataset.state === 'down';",
      std::chrono::seconds(10)));
  EXPECT_TRUE(web.waitUntil(
      "return document.querySelectorAll('#events tbody tr[data-kind=\"path_down\"]').length === 1;",
      std::chrono::seconds(10)));

  // Sparklines fill from the history (1 s buckets here).
  EXPECT_TRUE(web.waitUntil(
      "return document.querySelectorAll('#paths svg.spark path.rtt').length === 2;",
      std::chrono::seconds(15)));

  // Searching by path and free text filters the timeline.
  web.execute(
      "const f = document.getElementById('filters');"
      "f.elements.path.value = 'dx'; f.elements.q.value = 'timeout';"
      "f.requestSubmit();");
  EXPECT_TRUE(web.waitUntil(
      "const rows = document.querySelectorAll('#events tbody tr[data-kind]');"
      "return rows.length === 1 && rows[0].dataset.kind === 'path_down';",
      std::chrono::seconds(10)));
  web.execute("document.getElementById('filters').reset();");
  EXPECT_TRUE(web.waitUntil(
      "return document.querySelectorAll('#events tbody tr[data-kind]').length === 3;",
      std::chrono::seconds(10)));

  // A third round of probes, so that the sparklines in the screenshot have a few points.
  publish("down");
  web.waitUntil("return [...document.querySelectorAll('#paths svg.spark path.rtt')]"
                ".every(p => p.getAttribute('d').includes('L'));",
                std::chrono::seconds(10));
  std::string png = web.screenshotPng();
  ASSERT_GT(png.size(), 1000u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  std::ofstream(std::string(PP_BINARY_DIR) + "/obs-dashboard.png", std::ios::binary) << png;

  // No console errors, failed requests or CSP violations during the whole session.
  json log = web.browserLog();
  ASSERT_TRUE(log.is_array()) << log;
  for (const auto& entry : log) {
    EXPECT_NE(entry.value("level", ""), "SEVERE") << entry.dump();
  }
  // The browser's parallel connections were all served, none refused (a browser opens up to
  // six to one host; more than the per-client cap of served connections wait, they are not
  // answered 503).
  const std::string metrics = server.renderMetrics(nullptr);
  for (const char* reason : {"client_connections", "saturated"}) {
    EXPECT_NE(
        metrics.find(std::string("pathpilot_api_rejected_total{reason=\"") + reason + "\"} 0"),
        std::string::npos)
        << reason << "\n"
        << metrics;
  }
  server.stop();
}

}  // namespace
}  // namespace pathpilot::api
