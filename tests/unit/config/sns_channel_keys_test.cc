// alerts.channels[] of kind sns: a topic, or a phone number for an SMS (E.164, a region to
// send from, never a China region), with file:line:col diagnostics.
#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"
#include "config_test_util.h"

namespace pathpilot::config {
namespace {

using testing::check;
using testing::hasError;
using testing::kMinimal;

// kMinimal (site.region ap-southeast-1) is 15 lines; the channel below starts on line 19 and
// its `extra` lines on line 21.
std::string withChannel(std::string_view extra) {
  return std::string(kMinimal) +
         "alerts:\n"                      // 16
         "  outbox: /tmp/pp-outbox.db\n"  // 17
         "  channels:\n"                  // 18
         "    - name: oncall\n"           // 19
         "      kind: sns\n" +            // 20
         std::string(extra);              // 21...
}

TEST(SnsChannelConfigTest, PhoneNumberSendsFromTheSiteRegionByDefault) {
  LoadReport report = check(withChannel("      phone_number: '+15555550100'\n"));
  ASSERT_TRUE(report.ok()) << report.format();
  const AlertChannelConfig& c = report.config->alerts->channels[0];
  EXPECT_EQ(c.phone_number, "+15555550100");
  EXPECT_EQ(c.topic_arn, "");
  EXPECT_EQ(c.region, "ap-southeast-1") << "filled in from site.region";

  report =
      check(withChannel("      phone_number: '+15555550100'\n"
                        "      region: us-east-1\n"));
  ASSERT_TRUE(report.ok()) << report.format();
  EXPECT_EQ(report.config->alerts->channels[0].region, "us-east-1");
}

TEST(SnsChannelConfigTest, ChinaRegionsHaveNoSms) {
  // The channel's own region...
  LoadReport report =
      check(withChannel("      phone_number: '+8613800138000'\n"
                        "      region: cn-northwest-1\n"));
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.errors, 1u) << report.format();
  EXPECT_TRUE(hasError(report, 21, 21,
                       "alerts.channels[0].phone_number: Amazon SNS does not send SMS in the "
                       "China regions (cn-northwest-1, from region, is in partition aws-cn)"));
  // ...or the site's, when the channel has none.
  std::string text = testing::replaceLine(withChannel("      phone_number: '+8613800138000'\n"), 1,
                                          "site: {name: Beijing, region: cn-north-1}");
  text = testing::replaceLine(text, 9, "    az: cn-north-1a");
  text = testing::replaceLine(text, 14, "    az: cn-north-1a");
  report = check(text);
  EXPECT_EQ(report.errors, 1u) << report.format();
  EXPECT_TRUE(hasError(report, 21, 21, "(cn-north-1, from site.region"));
  // A topic in China is fine (mail subscribers).
  text = testing::replaceLine(text, 21,
                              "      topic_arn: arn:aws-cn:sns:cn-north-1:111122223333:DCI-Status");
  report = check(text);
  EXPECT_TRUE(report.ok()) << report.format();
}

TEST(SnsChannelConfigTest, PhoneNumbersMustBeE164) {
  for (const char* bad : {"'15555550100'", "'+1 555 555 0100'", "'+0155555501'",
                          "'+1234567890123456'", "'+1'", "'+1-555-0100'"}) {
    LoadReport report = check(withChannel(std::string("      phone_number: ") + bad + "\n"));
    EXPECT_EQ(report.errors, 1u) << bad << "\n" << report.format();
    EXPECT_TRUE(hasError(report, 21, 21, "expected a phone number in E.164 form")) << bad;
  }
}

TEST(SnsChannelConfigTest, ExactlyOneTarget) {
  LoadReport both = check(
      withChannel("      topic_arn: arn:aws:sns:ap-southeast-1:111122223333:DCI-Status\n"  // 21
                  "      phone_number: '+15555550100'\n"));                                // 22
  EXPECT_EQ(both.errors, 1u) << both.format();
  EXPECT_TRUE(hasError(both, 22, 21, "give either topic_arn or phone_number, not both"));

  LoadReport neither = check(withChannel(""));
  EXPECT_EQ(neither.errors, 1u) << neither.format();
  EXPECT_TRUE(hasError(neither, 19, 7, "missing required key 'topic_arn'")) << neither.format();
  EXPECT_TRUE(hasError(neither, 19, 7, "phone_number")) << neither.format();

  LoadReport webhook = check(std::string(kMinimal) +
                             "alerts:\n"
                             "  outbox: /tmp/pp-outbox.db\n"
                             "  channels:\n"
                             "    - name: hook\n"
                             "      kind: webhook\n"
                             "      url: https://example.com/hook\n"
                             "      phone_number: '+15555550100'\n");  // 22
  EXPECT_TRUE(hasError(webhook, 22, 21, "'phone_number' does not apply to a webhook channel"));
}

TEST(SnsChannelConfigTest, NoRegionAnywhereIsNamed) {
  // (The AWS route table of kMinimal misses the region too, which is its own error.)
  std::string text = testing::replaceLine(withChannel("      phone_number: '+15555550100'\n"), 1,
                                          "site: {name: Test}");
  text = testing::replaceLine(text, 9, "    az: zone-a");
  text = testing::replaceLine(text, 14, "    az: zone-a");
  LoadReport report = check(text);
  EXPECT_FALSE(report.ok());
  EXPECT_TRUE(hasError(report, 21, 21,
                       "alerts.channels[0].phone_number: an SMS is sent from one SNS region: set "
                       "region on this channel"));
}

}  // namespace
}  // namespace pathpilot::config
