// The `alerts:` section of the config file, and its agreement with the journal's names.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "alert/alert_manager.h"
#include "config/loader.h"
#include "http/curl_http_client.h"
#include "journal/event.h"

namespace pathpilot::config {
namespace {

const char* kBase = R"(
site: {name: Beijing, region: cn-north-1}
paths:
  - name: dx
    kind: dx
    probe: {targets: [10.10.3.100], source: 10.0.1.10}
    next_hop: {via: 10.0.1.1, dev: eth1}
route_tables:
  - {id: "101", backend: linux, table: 101, destinations: [10.10.0.0/16]}
journal: {sqlite: /tmp/j.db, jsonl: /tmp/j.jsonl}
)";

LoadReport load(const std::string& alerts) { return checkString(std::string(kBase) + alerts); }

bool has(const LoadReport& r, const std::string& text) {
  return r.format().find(text) != std::string::npos;
}

TEST(ConfigAlertsTest, FullSectionDecodes) {
  auto r = load(R"(
alerts:
  outbox: /var/lib/pathpilot/alerts.db
  group_window: 20s
  retry: {initial: 1s, max: 2m}
  templates: {title: "[{status}] {site}: {summary}"}
  channels:
    - {name: ding, kind: dingtalk, url: {env: DING_URL}, secret: {file: /etc/pp/ding}}
    - {name: fs, kind: feishu, url: {env: FS_URL}, rate: {per_minute: 10, burst: 2}}
    - {name: am, kind: alertmanager, url: "http://127.0.0.1:9093"}
    - name: mail
      kind: smtp
      url: smtp://mail.example.com:587
      starttls: true
      username: pathpilot
      password: {env: SMTP_PASSWORD}
      from: pathpilot@example.com
      to: [noc@example.com]
    - {name: sns, kind: sns, topic_arn: "arn:aws-cn:sns:cn-north-1:111122223333:DCI-Status"}
  routes:
    - {channels: [ding, mail], severity: critical, links: [dx], kinds: [path_down, fail_static]}
    - {channels: [am], severity: info, resolved: true}
)");
  ASSERT_TRUE(r.ok()) << r.format();
  EXPECT_EQ(r.warnings, 0u) << r.format();
  const AlertSettings& a = *r.config->alerts;
  EXPECT_EQ(a.group_window, std::chrono::seconds(20));
  EXPECT_EQ(a.channels.size(), 5u);
  EXPECT_EQ(a.channels[0].kind, AlertChannelKind::DingTalk);
  EXPECT_EQ(a.channels[1].rate.burst, 2);
  EXPECT_TRUE(a.channels[3].starttls);
  EXPECT_EQ(a.routes[0].min_severity, AlertSeverity::Critical);
  EXPECT_EQ(a.routes[0].kinds.size(), 2u);
  EXPECT_EQ(a.retry_max, std::chrono::minutes(2));
}

TEST(ConfigAlertsTest, UnknownTemplateFieldIsAnErrorNamingFieldAndKey) {
  auto r = load(R"(
alerts:
  templates: {body: "{site} {sumary}"}
  channels: [{name: am, kind: alertmanager, url: "http://127.0.0.1:9093"}]
)");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has(r, "alerts.templates.body: unknown field {sumary}")) << r.format();
  EXPECT_TRUE(has(r, "did you mean {summary}")) << r.format();
}

TEST(ConfigAlertsTest, InlineSecretsWarnAndAreNeverQuoted) {
  auto r = load(R"(
alerts:
  channels:
    - {name: ding, kind: dingtalk, url: "https://oapi.dingtalk.com/robot/send?access_token=TOK999", secret: SECxyz}
)");
  ASSERT_TRUE(r.ok()) << r.format();
  EXPECT_EQ(r.warnings, 2u) << r.format();
  EXPECT_TRUE(has(r, "alerts.channels[0].url: secret written inline"));
  EXPECT_TRUE(has(r, "alerts.channels[0].secret: secret written inline"));
  EXPECT_FALSE(has(r, "TOK999"));
  EXPECT_FALSE(has(r, "SECxyz"));
}

TEST(ConfigAlertsTest, BadInputIsReportedWhereItIs) {
  auto r = load(R"(
alerts:
  retry: {initial: 5m, max: 1m}
  channels:
    - {name: mail, kind: smtp, url: "http://x", from: "not an address", to: ["a@b", "<x>@y"]}
    - {name: mail, kind: slack, url: {env: S}, secret: {env: T}}
    - {name: x, kind: pager}
  routes:
    - {channels: [mial], kinds: [path_sideways], severity: loud}
)");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has(r, "alerts.retry.max: retry max 1m is shorter")) << r.format();
  EXPECT_TRUE(has(r, "alerts.channels[0].url: expected a smtp:// or smtps:// URL"));
  EXPECT_TRUE(has(r, "alerts.channels[0].from: invalid e-mail address"));
  EXPECT_TRUE(has(r, "alerts.channels[0].to[1]: invalid e-mail address"));
  EXPECT_TRUE(has(r, "alerts.channels[1].name: duplicate channel name"));
  EXPECT_TRUE(has(r, "alerts.channels[1].secret: 'secret' does not apply to a slack channel"));
  EXPECT_TRUE(has(r, "alerts.channels[2].kind"));
  EXPECT_TRUE(has(r, "alerts.routes[0].channels[0]: no channel named \"mial\" (did you mean "
                     "'mail'?)")) << r.format();
  EXPECT_TRUE(has(r, "alerts.routes[0].kinds[0]: unknown event kind \"path_sideways\""));
  EXPECT_TRUE(has(r, "alerts.routes[0].severity"));
}

TEST(ConfigAlertsTest, OutboxMustNotBeTheJournal) {
  auto r = load(R"(
alerts:
  outbox: /tmp/j.db
  channels: [{name: am, kind: alertmanager, url: "http://127.0.0.1:9093"}]
)");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has(r, "alerts.outbox: the outbox must be its own file"));
}

TEST(ConfigAlertsTest, EventKindNamesMatchTheJournal) {
  std::vector<std::string_view> journal_names;
  for (auto k : journal::allEventKinds()) {
    journal_names.push_back(journal::eventKindName(k));
  }
  EXPECT_EQ(alertEventKindNames(), journal_names);
  for (auto s : {journal::Severity::Info, journal::Severity::Warning, journal::Severity::Critical}) {
    EXPECT_EQ(alertSeverityName(static_cast<AlertSeverity>(static_cast<int>(s))),
              journal::severityName(s));
  }
}

TEST(ConfigAlertsTest, MissingSecretIsAClearErrorWithoutValue) {
  AlertChannelConfig c;
  c.name = "ding";
  c.kind = AlertChannelKind::DingTalk;
  c.url = SecretRef{SecretRef::Source::Env, "PP_TEST_UNSET_URL"};
  RealClock clock;
  auto ch = alert::makeChannel(c, clock, http::curlClients(),
                               [](std::string_view) { return std::nullopt; });
  ASSERT_FALSE(ch);
  EXPECT_EQ(ch.error().message(),
            "alerts channel ding: secret env:PP_TEST_UNSET_URL: the environment variable is not "
            "set");
  c.url = SecretRef{SecretRef::Source::Env, "U"};
  ch = alert::makeChannel(c, clock, http::curlClients(), [](std::string_view) {
    return std::optional<std::string>("ftp://secret-host/token123");
  });
  ASSERT_FALSE(ch);
  EXPECT_EQ(ch.error().message().find("token123"), std::string::npos);
}

TEST(ConfigAlertsTest, CaFileForPrivateRelays) {
  auto r = load(R"(
alerts:
  channels:
    - {name: mail, kind: smtp, url: "smtp://relay.corp:587", starttls: true,
       from: pathpilot@corp.example, to: [noc@corp.example], ca_file: /etc/pp/corp-ca.pem}
    - {name: am, kind: alertmanager, url: "https://am.corp:9093", ca_file: /etc/pp/corp-ca.pem}
)");
  ASSERT_TRUE(r.ok()) << r.format();
  EXPECT_EQ(r.config->alerts->channels[0].ca_file, "/etc/pp/corp-ca.pem");
  EXPECT_EQ(r.config->alerts->channels[1].ca_file, "/etc/pp/corp-ca.pem");
  auto empty = load(R"(
alerts:
  channels:
    - {name: am, kind: alertmanager, url: "https://am.corp:9093", ca_file: ""}
)");
  EXPECT_FALSE(empty.ok());
  EXPECT_TRUE(has(empty, "alerts.channels[0].ca_file")) << empty.format();
}

}  // namespace
}  // namespace pathpilot::config
