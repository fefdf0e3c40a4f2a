// Schema, defaults and validation of config::loadString / loadFile.
#include <gtest/gtest.h>

#include <algorithm>

#include "config/loader.h"
#include "config_test_util.h"

namespace pathpilot::config {
namespace {

using namespace std::chrono_literals;
using testing::check;
using testing::hasDiag;
using testing::hasError;
using testing::kMinimal;
using testing::replaceLine;
using testing::withLine;

std::string examplePath(std::string_view name) {
  return std::string(PP_SOURCE_DIR) + "/examples/" + std::string(name);
}

// --- examples and defaults --------------------------------------------------------------------

TEST(ConfigExamplesTest, SeedScenarioLoadsWithoutWarnings) {
  LoadReport report = checkFile(examplePath("seed-2az.yaml"));
  ASSERT_TRUE(report.ok()) << report.format();
  EXPECT_EQ(report.warnings, 0u) << report.format();
  const Config& c = *report.config;
  EXPECT_EQ(c.site.name, "Singapore");
  EXPECT_EQ(c.site.region, "ap-southeast-1");
  ASSERT_EQ(c.paths.size(), 3u);
  EXPECT_EQ(c.paths[0].name, "dx");
  EXPECT_EQ(c.paths[0].kind, LinkKind::Dx);
  EXPECT_EQ(c.paths[0].next_hop.aws_kind, AwsTargetKind::Gateway);
  EXPECT_EQ(c.paths[0].next_hop.aws_id, "vgw-078bcc55");
  EXPECT_EQ(c.paths[0].probe.targets.at(0).toString(), "10.10.3.100");
  EXPECT_EQ(c.paths[0].probe.pinning.fwmark, 0x64u);
  const PathConfig& vpn_a = c.paths[1];
  EXPECT_EQ(vpn_a.az, "ap-southeast-1a");
  EXPECT_EQ(vpn_a.next_hop.aws_id, "i-0e1466e8a5dd4892c");
  ASSERT_TRUE(vpn_a.recovery.has_value());
  EXPECT_EQ(vpn_a.recovery->action, RecoveryAction::Ec2Restart);
  // Taken from next_hop.instance_id.
  EXPECT_EQ(vpn_a.recovery->instance_id, "i-0e1466e8a5dd4892c");
  EXPECT_EQ(vpn_a.recovery->backoff_max, 15min);
  EXPECT_EQ(c.paths[2].probe.targets.at(0).toString(), "169.254.200.1");
  ASSERT_EQ(c.tables.size(), 2u);
  EXPECT_EQ(c.tables[0].id, "rtb-468f5222");
  EXPECT_EQ(c.tables[0].name, "Private-1");
  EXPECT_EQ(c.tables[1].id, "rtb-4b8f522f");
  EXPECT_EQ(c.tables[1].az, "ap-southeast-1b");
  EXPECT_EQ(c.tables[1].destinations.at(0).toString(), "10.10.0.0/16");
  EXPECT_EQ(c.health.degraded_loss, 0.10);
  EXPECT_EQ(c.api->port, 9180);
}

TEST(ConfigExamplesTest, LinuxScenarioLoadsWithoutWarnings) {
  LoadReport report = checkFile(examplePath("linux-2az.yaml"));
  ASSERT_TRUE(report.ok()) << report.format();
  EXPECT_EQ(report.warnings, 0u) << report.format();
  const Config& c = *report.config;
  ASSERT_EQ(c.tables.size(), 2u);
  EXPECT_EQ(c.tables[0].backend, BackendKind::Linux);
  EXPECT_EQ(c.tables[0].linux_table, 101u);
  EXPECT_EQ(c.tables[0].id, "101");  // defaults to the table number
  EXPECT_EQ(c.tables[1].linux_table, 102u);
  EXPECT_EQ(c.paths[1].next_hop.via->toString(), "10.255.1.2");
  EXPECT_EQ(c.paths[1].next_hop.dev, "vpna0");
  EXPECT_EQ(c.paths[1].probe.pinning.interface, "vpna0");
  EXPECT_EQ(c.paths[1].probe.interval, 500ms);  // from the top-level probe defaults
  ASSERT_TRUE(c.paths[1].recovery.has_value());
  EXPECT_EQ(c.paths[1].recovery->command,
            (std::vector<std::string>{"/usr/local/sbin/restart-gateway", "strongswan-1"}));
  EXPECT_FALSE(c.api.has_value());
}

TEST(ConfigDefaultsTest, MinimalConfigGetsDocumentedDefaults) {
  LoadReport report = check(kMinimal);
  ASSERT_TRUE(report.ok()) << report.format();
  const Config& c = *report.config;
  EXPECT_EQ(c.version, 1);
  const PathConfig& dx = c.paths[0];
  EXPECT_EQ(dx.priority, 100);
  EXPECT_EQ(dx.probe.kind, ProbeKind::Icmp);
  EXPECT_EQ(dx.probe.interval, 1s);
  EXPECT_EQ(dx.probe.timeout, 500ms);
  EXPECT_EQ(dx.probe.quorum, 1);
  EXPECT_EQ(dx.probe.jitter_percent, 10);
  EXPECT_EQ(dx.health.fall, 3);
  EXPECT_EQ(dx.health.down_loss, 0.5);
  EXPECT_TRUE(dx.health.damping.enabled);
  EXPECT_FALSE(dx.recovery.has_value());
  EXPECT_EQ(dx.detectionTime(), 3500ms);
  EXPECT_EQ(c.policy.preference, (std::vector<LinkKind>{LinkKind::Dx, LinkKind::Vpn}));
  EXPECT_TRUE(c.policy.az_affinity);
  EXPECT_EQ(c.policy.failback_hold_down, 60s);
  EXPECT_TRUE(c.policy.fail_static);
  EXPECT_EQ(c.tables[0].backend, BackendKind::Aws);
  EXPECT_EQ(c.tables[0].name, "rtb-468f5222");  // defaults to the id
  EXPECT_EQ(c.backends.aws.max_concurrency, 4);
  EXPECT_EQ(c.journal.sqlite, "/var/lib/pathpilot/journal.db");
  EXPECT_EQ(c.journal.queue_size, 65536);
  EXPECT_EQ(c.control.socket, "/run/pathpilot/control.sock");
  EXPECT_FALSE(c.api.has_value());
  EXPECT_TRUE(c.warnings.empty());
}

TEST(ConfigDefaultsTest, PathOverridesMergeWithTopLevelDefaults) {
  std::string text = std::string(kMinimal) +
                     "probe: {interval: 2s, timeout: 800ms, jitter: 0}\n"
                     "health: {fall: 5, damping: {half_life: 1m}}\n"
                     "policy: {failback_hold_down: 2m}\n";
  text = replaceLine(text, 10,
                     "    probe: {targets: [169.254.100.1], fwmark: 101, interval: 3s}\n"
                     "    health: {rise: 7}");
  LoadReport report = check(text);
  ASSERT_TRUE(report.ok()) << report.format();
  const Config& c = *report.config;
  EXPECT_EQ(c.paths[0].probe.interval, 2s);
  EXPECT_EQ(c.paths[0].probe.jitter_percent, 0);
  EXPECT_EQ(c.paths[1].probe.interval, 3s);         // own
  EXPECT_EQ(c.paths[1].probe.timeout, 800ms);       // inherited
  EXPECT_EQ(c.paths[1].health.rise, 7);             // own
  EXPECT_EQ(c.paths[1].health.fall, 5);             // inherited
  EXPECT_EQ(c.paths[1].health.damping.half_life, 1min);  // inherited
  EXPECT_EQ(c.paths[0].health.rise, 3);             // default
}

TEST(ConfigDefaultsTest, MergeKeysAndAliasesShareSettings) {
  std::string text = "x-probe: &fast {interval: 200ms, timeout: 100ms}\n" + std::string(kMinimal);
  // Unknown top-level keys are still rejected, even when only used as anchors.
  LoadReport rejected = check(text);
  EXPECT_TRUE(hasError(rejected, 1, 1, "unknown key \"x-probe\""));

  std::string merged = replaceLine(kMinimal, 5,
                                   "    probe: &p {targets: [10.10.3.100], fwmark: 100, "
                                   "interval: 200ms, timeout: 100ms}");
  merged = replaceLine(merged, 10,
                       "    probe: {<<: *p, targets: [169.254.100.1], fwmark: 101}");
  LoadReport report = check(merged);
  ASSERT_TRUE(report.ok()) << report.format();
  EXPECT_EQ(report.config->paths[1].probe.interval, 200ms);
  EXPECT_EQ(report.config->paths[1].probe.targets.at(0).toString(), "169.254.100.1");
}

TEST(ConfigDefaultsTest, TcpTargetsAndIpv6) {
  LoadReport report = check(withLine(
      5, "    probe: {kind: tcp, targets: ['10.10.3.100:22', '[2001:db8::1]:443'], "
         "interface: dx0, quorum: 2}"));
  ASSERT_TRUE(report.ok()) << report.format();
  const ProbeSettings& p = report.config->paths[0].probe;
  ASSERT_EQ(p.targets.size(), 2u);
  EXPECT_EQ(p.targets[0].port, 22);
  EXPECT_TRUE(p.targets[1].address.isV6());
  EXPECT_EQ(p.targets[1].toString(), "[2001:db8::1]:443");
  EXPECT_EQ(p.quorum, 2);
}

// --- unknown keys and did-you-mean ------------------------------------------------------------

TEST(ConfigKeysTest, UnknownKeySuggestsClosestKey) {
  LoadReport report =
      check(withLine(5, "    probe: {targets: [10.10.3.100], fwmark: 100, intervall: 2s}"));
  EXPECT_FALSE(report.ok());
  EXPECT_TRUE(hasError(report, 5, 50,
                       "paths[0].probe: unknown key \"intervall\" (did you mean 'interval'?)"));
}

TEST(ConfigKeysTest, TransposedAndCaseChangedKeysAreSuggested) {
  LoadReport report = check(withLine(4, "    knid: dx"));
  EXPECT_TRUE(hasError(report, 4, 5, "unknown key \"knid\" (did you mean 'kind'?)"));
  report = check(withLine(4, "    Kind: dx"));
  EXPECT_TRUE(hasError(report, 4, 5, "unknown key \"Kind\" (did you mean 'kind'?)"));
}

TEST(ConfigKeysTest, MisplacedKeyNamesWhereItBelongs) {
  LoadReport report = check(withLine(4, "    kind: dx\n    fwmark: 7"));
  EXPECT_TRUE(hasError(report, 5, 5,
                       "paths[0]: unknown key \"fwmark\" ('fwmark' belongs under paths[].probe)"));
}

TEST(ConfigKeysTest, UnknownKeyWithoutMatchListsTheValidKeys) {
  LoadReport report = check(std::string(kMinimal) + "zzz: 1\n");
  EXPECT_TRUE(hasError(report, 16, 1, "unknown key \"zzz\" (expected one of: version, site,"));
}

TEST(ConfigKeysTest, UnknownEnumValueSuggestsClosestWord) {
  LoadReport report = check(withLine(8, "    kind: vnp"));
  EXPECT_TRUE(hasError(report, 8, 11,
                       "paths[1].kind: expected one of dx or vpn, got \"vnp\" (did you mean "
                       "'vpn'?)"));
}

TEST(ConfigKeysTest, DuplicateKeyIsAnErrorWithBothPositions) {
  LoadReport report = check(withLine(9, "    az: ap-southeast-1a\n    az: ap-southeast-1b"));
  EXPECT_TRUE(hasError(report, 10, 5,
                       "paths[1]: duplicate key \"az\" (first defined at line 9, column 5)"));
}

TEST(ConfigKeysTest, DuplicateKeyInFlowMappingIsFound) {
  LoadReport report =
      check(withLine(5, "    probe: {targets: [10.10.3.100], fwmark: 100, fwmark: 200}"));
  EXPECT_TRUE(hasError(report, 5, 50, "paths[0].probe: duplicate key \"fwmark\""));
}

TEST(ConfigKeysTest, MissingRequiredKeysAreNamed) {
  LoadReport report = check(withLine(4, "    priority: 5"));
  EXPECT_TRUE(hasError(report, 3, 5, "paths[0]: missing required key 'kind' (dx or vpn)"));
  report = check(withLine(1, "site: {region: ap-southeast-1}"));
  EXPECT_TRUE(hasError(report, 1, 7, "site: missing required key 'name'"));
}

// --- wrong types and bad values ---------------------------------------------------------------

TEST(ConfigTypesTest, StringWhereNumberExpected) {
  LoadReport report =
      check(withLine(5, "    probe: {targets: [10.10.3.100], fwmark: 100, quorum: two}"));
  EXPECT_TRUE(hasError(report, 5, 58,
                       "paths[0].probe.quorum: expected an integer between 1 and 16, got "
                       "\"two\""));
}

TEST(ConfigTypesTest, QuotedNumberIsAString) {
  LoadReport report =
      check(withLine(5, "    probe: {targets: [10.10.3.100], fwmark: 100, quorum: \"1\"}"));
  EXPECT_TRUE(hasError(report, 5, 58, "got the quoted string \"1\" (remove the quotes)"));
}

TEST(ConfigTypesTest, DurationWithoutUnit) {
  LoadReport report =
      check(withLine(5, "    probe: {targets: [10.10.3.100], fwmark: 100, interval: 5}"));
  EXPECT_TRUE(hasError(report, 5, 60,
                       "paths[0].probe.interval: invalid duration \"5\": missing unit"));
}

TEST(ConfigTypesTest, MappingWhereListExpectedAndViceVersa) {
  LoadReport report = check(withLine(5, "    probe: [10.10.3.100]"));
  EXPECT_TRUE(hasError(report, 5, 12, "paths[0].probe: expected a mapping (key: value lines), got "
                                      "a list"));
  report = check(withLine(15, "    destinations: 10.10.0.0/16"));
  EXPECT_TRUE(hasError(report, 15, 19,
                       "route_tables[0].destinations: expected a list, got a scalar (write "
                       "[10.10.0.0/16])"));
}

TEST(ConfigTypesTest, EmptyValueIsMissing) {
  LoadReport report = check(withLine(8, "    kind:"));
  EXPECT_TRUE(hasError(report, 8, 5, "paths[1].kind: missing value (expected one of dx or vpn)"));
}

TEST(ConfigTypesTest, BooleansAcceptYamlSpellingsOnly) {
  LoadReport report = check(std::string(kMinimal) + "policy: {az_affinity: maybe}\n");
  EXPECT_TRUE(hasError(report, 16, 23, "policy.az_affinity: expected true or false, got "
                                       "\"maybe\""));
  report = check(std::string(kMinimal) + "policy: {fail_static: yes, az_affinity: Off}\n");
  ASSERT_TRUE(report.ok()) << report.format();
  EXPECT_TRUE(report.config->policy.fail_static);
}

TEST(ConfigTypesTest, RatiosAcceptFractionsAndPercentages) {
  LoadReport report = check(std::string(kMinimal) + "health: {degraded_loss: 5%, down_loss: 0.4}\n");
  ASSERT_TRUE(report.ok()) << report.format();
  EXPECT_DOUBLE_EQ(report.config->paths[0].health.degraded_loss, 0.05);
  EXPECT_DOUBLE_EQ(report.config->paths[0].health.down_loss, 0.4);
  report = check(std::string(kMinimal) + "health: {down_loss: 40}\n");
  EXPECT_TRUE(hasError(report, 16, 21, "health.down_loss: must be between 0 and 1"));
}

TEST(ConfigTypesTest, OutOfRangeNumbers) {
  LoadReport report =
      check(withLine(5, "    probe: {targets: [10.10.3.100], fwmark: 100, jitter: 80}"));
  EXPECT_TRUE(hasError(report, 5, 58, "paths[0].probe.jitter: must be between 0 and 50, got \"80\""));
  report = check(withLine(5, "    probe: {targets: [10.10.3.100], fwmark: 0}"));
  EXPECT_TRUE(hasError(report, 5, 45, "paths[0].probe.fwmark: must be between 1 and 4294967295"));
}

TEST(ConfigTypesTest, SchemaVersionMustBeKnown) {
  LoadReport report = check("version: 2\n" + std::string(kMinimal));
  EXPECT_TRUE(hasError(report, 1, 10, "version: unsupported schema version 2"));
}

// --- addresses, prefixes and ids --------------------------------------------------------------

TEST(ConfigAddressTest, PrefixWithHostBitsIsRejected) {
  LoadReport report = check(withLine(15, "    destinations: [10.10.0.1/16]"));
  EXPECT_TRUE(hasError(report, 15, 20, "route_tables[0].destinations[0]: prefix \"10.10.0.1/16\" "
                                       "has host bits set"));
}

TEST(ConfigAddressTest, BadPrefixAndBareAddress) {
  LoadReport report = check(withLine(15, "    destinations: [10.10.0.0/16, 10.10.0.0/40, 10.1.2.3]"));
  EXPECT_TRUE(hasError(report, 15, 34, "route_tables[0].destinations[1]: prefix length 40"));
  EXPECT_TRUE(hasError(report, 15, 48, "route_tables[0].destinations[2]: expected a prefix such "
                                       "as 10.10.0.0/16, got \"10.1.2.3\""));
}

TEST(ConfigAddressTest, DuplicateDestination) {
  LoadReport report = check(withLine(15, "    destinations: [10.10.0.0/16, 10.10.0.0/16]"));
  EXPECT_TRUE(hasError(report, 15, 34, "duplicate destination 10.10.0.0/16"));
}

TEST(ConfigAddressTest, BadProbeTargets) {
  LoadReport report = check(withLine(5, "    probe: {targets: [10.10.3.300], fwmark: 100}"));
  EXPECT_TRUE(hasError(report, 5, 23, "paths[0].probe.targets[0]: invalid IP address "
                                      "\"10.10.3.300\""));
  report = check(withLine(5, "    probe: {targets: [edge.example.com], fwmark: 100}"));
  EXPECT_TRUE(hasError(report, 5, 23, "is not an IP address; probe targets must be addresses"));
  report = check(withLine(5, "    probe: {targets: [127.0.0.1], fwmark: 100}"));
  EXPECT_TRUE(hasError(report, 5, 23, "a loopback address never leaves this host"));
  report = check(withLine(5, "    probe: {targets: ['10.10.3.100:22'], fwmark: 100}"));
  EXPECT_TRUE(hasError(report, 5, 23, "icmp targets take no port"));
  report = check(withLine(5, "    probe: {kind: tcp, targets: [10.10.3.100], fwmark: 100}"));
  EXPECT_TRUE(hasError(report, 5, 34, "tcp targets need a port: 10.10.3.100:443"));
}

TEST(ConfigAddressTest, MixedFamiliesBetweenSourceAndTargets) {
  LoadReport report =
      check(withLine(5, "    probe: {targets: ['2001:db8::1'], source: 10.0.0.5}"));
  EXPECT_TRUE(hasError(report, 5, 47,
                       "paths[0].probe.source: source 10.0.0.5 is IPv4 but target 2001:db8::1 is "
                       "IPv6"));
}

TEST(ConfigAddressTest, MixedFamiliesBetweenViaAndDestinations) {
  std::string text = std::string(kMinimal) +
                     "  - table: 101\n"                            // 16
                     "    backend: linux\n"                        // 17
                     "    az: ap-southeast-1a\n"                   // 18
                     "    destinations: ['2001:db8:10::/48']\n"    // 19
                     "    paths: [vpn-a]\n";                       // 20
  text = replaceLine(text, 11,
                     "    next_hop: {instance_id: i-0e1466e8a5dd4892c, via: 10.255.1.2, dev: "
                     "vpna0}");
  LoadReport report = check(text);
  EXPECT_TRUE(hasError(report, 11, 55,
                       "paths[1].next_hop.via: via 10.255.1.2 is IPv4 but linux table '101' "
                       "routes IPv6 destination 2001:db8:10::/48"));
}

TEST(ConfigAddressTest, AwsIdFormatsAreChecked) {
  LoadReport report = check(withLine(6, "    next_hop: {gateway_id: vgw-078bcc5}"));
  EXPECT_TRUE(hasError(report, 6, 28, "paths[0].next_hop.gateway_id: expected an id such as "
                                      "vgw-078bcc55, got \"vgw-078bcc5\""));
  EXPECT_EQ(report.errors, 1u) << report.format();  // no follow-up "has no AWS next hop"
  report = check(withLine(13, "  - id: rtb-XYZ"));
  EXPECT_TRUE(hasError(report, 13, 9, "route_tables[0].id: expected a route table id such as "
                                      "rtb-468f5222"));
  report = check(withLine(11, "    next_hop: {instance_id: i-0e14, gateway_id: vgw-078bcc55}"));
  EXPECT_TRUE(hasError(report, 11, 29, "paths[1].next_hop.instance_id: expected an id such as "
                                       "i-0e1466e8a5dd4892c"));
  EXPECT_TRUE(hasError(report, 11, 49, "paths[1].next_hop.gateway_id: set only one AWS next hop; 'instance_id' is already set"));
}

TEST(ConfigAddressTest, LinuxTableNumbersExcludeSystemTables) {
  std::string text = withLine(13, "  - table: 254\n    backend: linux");
  LoadReport report = check(text);
  EXPECT_TRUE(hasError(report, 13, 12, "route_tables[0].table: tables 253 (default), 254 (main) "
                                       "and 255 (local) belong to the system"));
  report = check(withLine(13, "  - table: 4294967295\n    backend: linux"));
  EXPECT_TRUE(hasError(report, 13, 12, "must be between 1 and 4294967294"));
  report = check(withLine(13, "  - id: rtb-468f5222\n    table: 101"));
  EXPECT_TRUE(hasError(report, 14, 12, "route_tables[0].table: 'table' is only used with backend: linux"));
}

// --- references and cross-checks --------------------------------------------------------------

TEST(ConfigCrossTest, DuplicatePathNames) {
  LoadReport report = check(withLine(7, "  - name: dx"));
  EXPECT_TRUE(hasError(report, 7, 11, "paths[1].name: duplicate path name 'dx' (also paths[0])"));
}

TEST(ConfigCrossTest, DuplicateTableIdsAndNames) {
  std::string text = std::string(kMinimal) +
                     "  - id: rtb-468f5222\n"
                     "    az: ap-southeast-1a\n"
                     "    destinations: [10.20.0.0/16]\n";
  LoadReport report = check(text);
  EXPECT_TRUE(hasError(report, 16, 9, "route_tables[1].id: duplicate route table id "
                                      "'rtb-468f5222' (also route_tables[0])"));
}

TEST(ConfigCrossTest, TableReferencesUnknownPath) {
  LoadReport report = check(std::string(kMinimal) + "    paths: [dx, vpn-b]\n");
  EXPECT_TRUE(hasError(report, 16, 17,
                       "route_tables[0].paths[1]: unknown path 'vpn-b' (did you mean 'vpn-a'?)"));
}

TEST(ConfigCrossTest, Ec2RestartOnDxPathIsRejected) {
  LoadReport report = check(withLine(6, "    next_hop: {gateway_id: vgw-078bcc55}\n"
                                        "    recovery: {action: ec2-restart}"));
  EXPECT_TRUE(hasError(report, 7, 24,
                       "paths[0].recovery.action: ec2-restart on a dx path: a Direct Connect "
                       "link has no gateway instance to restart"));
}

TEST(ConfigCrossTest, Ec2RestartNeedsAnInstance) {
  LoadReport report = check(withLine(11, "    next_hop: {network_interface_id: eni-0a1b2c3d}\n"
                                         "    recovery: {action: ec2-restart}"));
  EXPECT_TRUE(hasError(report, 12, 24, "paths[1].recovery.action: ec2-restart needs the gateway instance"));
}

TEST(ConfigCrossTest, CommandRecoveryNeedsArgv) {
  LoadReport report = check(withLine(11, "    next_hop: {instance_id: i-0e1466e8a5dd4892c}\n"
                                         "    recovery: {action: command}"));
  EXPECT_TRUE(hasError(report, 12, 15, "paths[1].recovery: missing required key 'command'"));
  report = check(withLine(11, "    next_hop: {instance_id: i-0e1466e8a5dd4892c}\n"
                              "    recovery: {action: command, command: [/bin/true], "
                              "backoff: {initial: 10m, max: 1m}}"));
  EXPECT_TRUE(hasError(report, 12, 84,
                       "paths[1].recovery.backoff.max: backoff max 1m is shorter than backoff "
                       "initial 10m"));
}

TEST(ConfigCrossTest, TimeoutMustBeShorterThanInterval) {
  LoadReport report = check(
      withLine(5, "    probe: {targets: [10.10.3.100], fwmark: 100, interval: 1s, timeout: 1s}"));
  EXPECT_TRUE(hasError(report, 5, 73,
                       "paths[0].probe.timeout: timeout 1s must be shorter than the interval 1s"));
  report = check(std::string(kMinimal) + "probe: {interval: 200ms}\n");
  EXPECT_TRUE(hasError(report, 16, 8,
                       "probe.timeout: timeout 500ms must be shorter than the interval 200ms"));
}

TEST(ConfigCrossTest, HoldDownShorterThanDetectionTime) {
  LoadReport report = check(std::string(kMinimal) +
                            "policy: {failback_hold_down: 3s}\n"
                            "health: {fall: 4}\n");
  EXPECT_TRUE(hasError(report, 16, 30,
                       "policy.failback_hold_down: failback_hold_down 3s is shorter than the "
                       "time to detect a failure of path 'dx' (interval 1s x fall 4 + timeout "
                       "500ms = 4500ms)"));
}

TEST(ConfigCrossTest, ProbeMustBePinned) {
  LoadReport report = check(withLine(5, "    probe: {targets: [10.10.3.100]}"));
  EXPECT_TRUE(hasError(report, 5, 12, "paths[0].probe: the probe is not pinned to its path"));
}

TEST(ConfigCrossTest, TwoPathsWithTheSamePinning) {
  LoadReport report = check(withLine(10, "    probe: {targets: [169.254.100.1], fwmark: 100}"));
  EXPECT_TRUE(hasError(report, 10, 12,
                       "paths[1].probe: pinned exactly like path 'dx' (fwmark 0x64)"));
}

TEST(ConfigCrossTest, QuorumLargerThanTargets) {
  LoadReport report =
      check(withLine(5, "    probe: {targets: [10.10.3.100], fwmark: 100, quorum: 2}"));
  EXPECT_TRUE(hasError(report, 5, 58,
                       "paths[0].probe.quorum: quorum 2 is more than the 1 target of path 'dx'"));
}

TEST(ConfigCrossTest, VpnPathAndTableNeedZonesForAffinity) {
  LoadReport report = check(withLine(9, "    priority: 1"));
  EXPECT_TRUE(hasError(report, 7, 5, "paths[1]: missing 'az': vpn path 'vpn-a' needs the "
                                     "availability zone"));
  report = check(withLine(14, "    name: Private-1"));
  EXPECT_TRUE(hasError(report, 13, 5, "route_tables[0]: missing 'az'"));
  report = check(withLine(14, "    name: Private-1") + "policy: {az_affinity: false}\n");
  EXPECT_TRUE(report.ok()) << report.format();
}

TEST(ConfigCrossTest, PathWithoutNextHopForTheTableBackend) {
  LoadReport report = check(withLine(11, "    next_hop: {via: 10.255.1.2, dev: vpna0}"));
  EXPECT_TRUE(hasError(report, 11, 15,
                       "paths[1].next_hop: path 'vpn-a' may carry aws route table "
                       "'rtb-468f5222' but has no AWS next hop"));
}

TEST(ConfigCrossTest, AwsNeedsARegion) {
  LoadReport report = check(withLine(1, "site: {name: Test}"));
  EXPECT_TRUE(hasError(report, 1, 7, "site: no AWS region: set site.region or "
                                     "backends.aws.region (needed by route table "
                                     "'rtb-468f5222')"));
}

TEST(ConfigCrossTest, ExecBackendNeedsACommand) {
  LoadReport report = check(withLine(13, "  - id: hook-1\n    backend: exec"));
  EXPECT_TRUE(hasError(report, 14, 14, "route_tables[0].backend: backend exec needs "
                                       "backends.exec.command"));
  report = check(withLine(13, "  - id: hook-1\n    backend: exec") +
                 "backends: {exec: {command: [/usr/local/sbin/route-hook], timeout: 5s}}\n");
  EXPECT_TRUE(report.ok()) << report.format();
}

TEST(ConfigCrossTest, EndpointUrlWithCredentialsIsRejectedWithoutEchoingThem) {
  LoadReport report = check(std::string(kMinimal) +
                            "backends: {aws: {endpoint_url: 'https://AKIDEXAMPLE:s3cr3t@ec2.example'}}\n");
  EXPECT_TRUE(hasError(report, 16, 32, "credentials in the URL are not allowed"));
  EXPECT_EQ(report.format().find("s3cr3t"), std::string::npos);
}

// --- warnings ---------------------------------------------------------------------------------

TEST(ConfigWarningsTest, UnusedPathIsAWarning) {
  LoadReport report = check(std::string(kMinimal) + "    paths: [dx, vpn-a]\n" +
                            "  - id: rtb-4b8f522f\n"
                            "    az: ap-southeast-1a\n"
                            "    destinations: [10.20.0.0/16]\n"
                            "    paths: [dx]\n");
  ASSERT_TRUE(report.ok()) << report.format();
  std::string text = replaceLine(std::string(kMinimal) + "    paths: [dx]\n", 1,
                                 "site: {name: Test, region: ap-southeast-1}");
  report = check(text);
  ASSERT_TRUE(report.ok()) << report.format();
  EXPECT_TRUE(hasDiag(report, 7, 5, Severity::Warning,
                      "paths[1]: path 'vpn-a' is not used by any route table"));
  ASSERT_EQ(report.config->warnings.size(), 1u);
  EXPECT_EQ(report.config->warnings[0].toString(),
            "t.yaml:7:5: warning: paths[1]: path 'vpn-a' is not used by any route table (it is "
            "still probed)");
}

TEST(ConfigWarningsTest, InlineSecretWarnsWithoutPrintingIt) {
  LoadReport report = check(std::string(kMinimal) + "api: {auth_token: hunter2-token}\n");
  ASSERT_TRUE(report.ok()) << report.format();
  EXPECT_TRUE(hasDiag(report, 16, 19, Severity::Warning,
                      "api.auth_token: secret written inline in the config file"));
  EXPECT_EQ(report.format().find("hunter2"), std::string::npos);
  EXPECT_EQ(report.config->api->auth_token->describe(), "<inline secret>");

  report = check(std::string(kMinimal) + "api: {auth_token: {env: PATHPILOT_API_TOKEN}}\n");
  ASSERT_TRUE(report.ok()) << report.format();
  EXPECT_EQ(report.warnings, 0u);
  EXPECT_EQ(report.config->api->auth_token->describe(), "env:PATHPILOT_API_TOKEN");
}

TEST(ConfigWarningsTest, PublicApiWithoutTokenWarns) {
  LoadReport report = check(std::string(kMinimal) + "api: {listen: '0.0.0.0:9180'}\n");
  ASSERT_TRUE(report.ok()) << report.format();
  EXPECT_TRUE(hasDiag(report, 16, 15, Severity::Warning, "without api.auth_token"));
}

TEST(ConfigWarningsTest, LinkKindMissingFromPreference) {
  LoadReport report = check(std::string(kMinimal) + "policy: {preference: [dx]}\n");
  ASSERT_TRUE(report.ok()) << report.format();
  EXPECT_TRUE(hasDiag(report, 8, 11, Severity::Warning,
                      "link kind 'vpn' is not in policy.preference, so path 'vpn-a' never "
                      "carries traffic"));
}

// --- many errors at once ----------------------------------------------------------------------

TEST(ConfigReportTest, AllErrorsAreReportedInFileOrder) {
  std::string text = withLine(4, "    kind: dxx");
  text = replaceLine(text, 10, "    probe: {targets: [169.254.100.1], fwmark: 101, timeout: 5}");
  text = replaceLine(text, 15, "    destinations: [10.10.0.1/16]");
  LoadReport report = check(text);
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.errors, 3u) << report.format();
  EXPECT_TRUE(hasError(report, 4, 11, "paths[0].kind"));
  EXPECT_TRUE(hasError(report, 10, 61, "paths[1].probe.timeout: invalid duration \"5\""));
  EXPECT_TRUE(hasError(report, 15, 20, "route_tables[0].destinations[0]"));
  EXPECT_TRUE(std::is_sorted(report.diagnostics.begin(), report.diagnostics.end(),
                             [](const Diagnostic& a, const Diagnostic& b) {
                               return a.where.line < b.where.line;
                             }));
}

TEST(ConfigReportTest, TooManyErrorsAreCapped) {
  std::string text(kMinimal);
  for (int i = 0; i < 500; ++i) {
    text += "bogus" + std::to_string(i) + ": 1\n";
  }
  LoadReport report = check(text);
  EXPECT_EQ(report.errors, 500u);
  EXPECT_LE(report.diagnostics.size(), Diagnostics::kMaxErrors + 1);
  EXPECT_NE(report.format().find("300 more problems not shown"), std::string::npos);
}

TEST(ConfigReportTest, ResultApiCarriesEveryDiagnostic) {
  std::string text = withLine(4, "    kind: dxx");
  text = replaceLine(text, 15, "    destinations: [10.10.0.1/16]");
  auto result = loadString(text, "site.yaml");
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), ErrorCode::InvalidArgument);
  EXPECT_NE(result.error().message().find("site.yaml:4:11: error: paths[0].kind"),
            std::string::npos);
  EXPECT_NE(result.error().message().find("site.yaml:15:20: error: route_tables[0]"),
            std::string::npos);
  auto good = loadString(kMinimal);
  ASSERT_TRUE(good.has_value());
  EXPECT_EQ(good->source, "<string>");
}

TEST(ConfigReportTest, DiagnosticFormatIsGccStyle) {
  Diagnostic d{Severity::Error, "site.yaml", {14, 17}, "paths[2].probe.interval: bad"};
  EXPECT_EQ(d.toString(), "site.yaml:14:17: error: paths[2].probe.interval: bad");
  Diagnostic file_level{Severity::Warning, "site.yaml", {}, "something"};
  EXPECT_EQ(file_level.toString(), "site.yaml: warning: something");
}

}  // namespace
}  // namespace pathpilot::config
