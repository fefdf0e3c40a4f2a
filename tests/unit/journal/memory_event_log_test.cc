#include "fakes/memory_event_log.h"

#include <gtest/gtest.h>

#include "fakes/fake_clock.h"
#include "samples.h"

namespace pathpilot::journal {
namespace {

using testing::simpleEvent;

TEST(MemoryEventLogTest, AssignsSeqAndSearchesLikeTheStore) {
  pathpilot::testing::FakeClock clock;
  MemoryEventLog log(&clock);
  EventLog& as_interface = log;
  EXPECT_TRUE(as_interface.append(simpleEvent("Beijing", EventKind::PathDown, 0, "DX down")));
  EXPECT_TRUE(as_interface.append(simpleEvent("Singapore", EventKind::PathDown, 2, "DX down")));
  EXPECT_TRUE(as_interface.append(simpleEvent("Beijing", EventKind::PathUp, 1, "DX up")));
  Event unset;
  unset.kind = EventKind::DaemonStarted;
  EXPECT_TRUE(as_interface.append(unset));

  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log.last()->seq, 4u);
  EXPECT_EQ(log.last()->time, clock.wallNow());

  Query q;
  q.site = "Beijing";
  auto found = as_interface.search(q);
  ASSERT_TRUE(found);
  ASSERT_EQ(found->size(), 2u);
  EXPECT_EQ((*found)[0].seq, 3u);  // newer time first
  EXPECT_EQ((*found)[1].seq, 1u);

  Query text;
  text.text = "down";
  text.limit = 1;
  found = log.search(text);
  ASSERT_TRUE(found);
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].site, "Singapore");
}

TEST(MemoryEventLogTest, CapacityMakesAppendFail) {
  MemoryEventLog log(nullptr, 2);
  EXPECT_TRUE(log.append(simpleEvent("a", EventKind::PathUp, 0)));
  EXPECT_TRUE(log.append(simpleEvent("a", EventKind::PathUp, 1)));
  EXPECT_FALSE(log.append(simpleEvent("a", EventKind::PathUp, 2)));
  EXPECT_EQ(log.dropped(), 1u);
  log.clear();
  EXPECT_EQ(log.size(), 0u);
  EXPECT_TRUE(log.append(simpleEvent("a", EventKind::PathUp, 3)));
  EXPECT_EQ(log.events()[0].seq, 3u) << "seq keeps increasing after clear()";
}

}  // namespace
}  // namespace pathpilot::journal
