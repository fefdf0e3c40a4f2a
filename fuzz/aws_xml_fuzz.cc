// Fuzz target for the AWS response parsers (EC2, SNS, CloudWatch, error documents) and the
// other text the aws module reads from the network (Date headers, Authorization values,
// form bodies). Any byte string must give a value or a clean Error — never a crash, a hang,
// an exception or unbounded memory. Under the fuzz preset this is a libFuzzer binary; under
// GCC the replay main runs the seed corpus (fuzz/corpus/aws_xml plus the recorded bodies in
// tests/data/aws/responses) in ctest, label fuzz.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "aws/cloudwatch.h"
#include "aws/ec2.h"
#include "aws/query.h"
#include "aws/retry.h"
#include "aws/sigv4.h"
#include "aws/sns.h"

namespace {

// An Error must always say what went wrong.
template <class T>
void checkResult(const pathpilot::Result<T>& r) {
  if (!r && r.error().message().empty()) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pathpilot;
  using namespace pathpilot::aws;
  std::string_view text(reinterpret_cast<const char*>(data), size);

  auto tables = parseDescribeRouteTables(text);
  checkResult(tables);
  if (tables) {
    for (const VpcRouteTable& t : tables->tables) {
      for (const Ec2Route& r : t.routes) {
        checkResult(r.prefix());
        (void)r.target.toString();
      }
    }
  }
  checkResult(parseDescribeInstances(text));
  checkResult(parseInstanceStateChanges(text, "StopInstances"));
  checkResult(parseInstanceStateChanges(text, "StartInstances"));
  checkResult(parseReturn(text, "ReplaceRoute"));
  checkResult(parsePublish(text));
  checkResult(parsePutMetricData(text));

  AwsError e = parseAwsError(400, text);
  if (e.code.empty() && e.message.empty()) {
    std::abort();  // parseAwsError always describes what it got
  }
  Error mapped = toError(e, "EC2", "Fuzz");
  if (mapped.message().size() > 4096) {
    std::abort();  // messages are bounded
  }
  (void)isAwsErrorDocument(text);

  // Other network-facing text.
  checkResult(decodeQueryBody(text));
  checkResult(parseAuthorization(text));
  checkResult(parseHttpDate(text));
  checkResult(parseAmzDate(text));
  (void)canonicalQuery(text);
  (void)canonicalUri(text, true, true);
  return 0;
}
